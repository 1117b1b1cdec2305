// Types for chromium.mjs, which playwright.config.ts imports.
export declare const CHROMIUM_FLAGS: string[];
