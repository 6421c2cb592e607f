#!/usr/bin/env node
// Launcher for the `bandits` command: a committed file, so npm can link it before the build runs.
const { main } = require("../dist/cli/bandits.js");
main(process.argv.slice(2)).then((code) => process.exit(code));
