// One region of a page that fails to render shows a plain alert and a retry, and the rest of
// the page keeps working.
import { Component, type ErrorInfo, type ReactNode } from "react";

import styles from "./Notice.module.css";

type Props = { children: ReactNode; label: string };
type State = { failed: boolean };

export class ErrorBoundary extends Component<Props, State> {
  state: State = { failed: false };

  static getDerivedStateFromError(): State {
    return { failed: true };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error(`${this.props.label} failed to render`, error, info.componentStack);
  }

  render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div role="alert" className={styles.alert}>
        <p>Something went wrong showing {this.props.label}.</p>
        <button type="button" className={styles.action} onClick={() => this.setState({ failed: false })}>
          Try again
        </button>
      </div>
    );
  }
}
