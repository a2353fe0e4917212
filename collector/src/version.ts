/** The collector's package version (a test keeps it equal to collector/package.json). */
export const VERSION = "0.1.0";
