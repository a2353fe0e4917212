#!/usr/bin/env node
// The `tokenmeter` command. npm links a package's commands when it installs, and in a fresh
// clone that happens before the first build; so the command is this file, present from the
// start, and it runs the compiled CLI, or says how to build it.
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(cli)) {
  await import(cli.href);
} else {
  process.stderr.write(
    "tokenmeter: TM_ERR_NOT_BUILT: the CLI is not compiled yet; run `npm run build` (or `npm start`) at the repository root first\n",
  );
  process.exitCode = 1;
}
