"""An offline stand-in for the parts of Stripe this shop calls (see README.md beside this file).

`create_app(config)` builds the ASGI app; `python -m standins.stripe` serves it on 12111;
`standins.stripe.testing.running_standin()` runs one on a free port for a test suite.
"""

from standins.stripe.app import create_app
from standins.stripe.config import StandInConfig, WebhookTarget

__all__ = ["StandInConfig", "WebhookTarget", "create_app"]
