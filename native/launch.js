// The native action's launcher: runs this platform's app-token binary, from this
// directory, for one step (main or post) after checking it against SHA256SUMS.
// Everything else (inputs, outputs, masking, state, revocation) is the binary's.
// Plain node (nothing newer than node 20), no dependencies.
'use strict';

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

// process.platform-process.arch, as .ci/native and the release lay them out.
const SUPPORTED = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'];

// A workflow command's data, escaped as the runner unescapes it.
const escape = (s) => String(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

function fail(message) {
  process.stdout.write(`::error::${escape(message)}${os.EOL}`);
  process.exit(1);
}

function read(file, what) {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    return fail(`cannot read ${what}: ${e.message}`);
  }
}

function launch(step) {
  const platform = `${process.platform}-${process.arch}`;
  if (!SUPPORTED.includes(platform)) {
    fail(`app-token has no binary for ${platform}; it runs on ${SUPPORTED.join(', ')}`);
  }
  const exe = process.platform === 'win32' ? 'app-token.exe' : 'app-token';
  const relative = `bin/${platform}/${exe}`;
  const binary = path.join(__dirname, 'bin', platform, exe);
  const manifest = read(path.join(__dirname, 'SHA256SUMS'), 'the manifest SHA256SUMS').toString('utf8');
  const listed = manifest
    .split(/\r?\n/)
    .map((line) => /^([0-9a-f]{64}) [ *](.+)$/.exec(line))
    .find((m) => m && m[2] === relative);
  if (!listed) {
    fail(`SHA256SUMS lists no ${relative}`);
  }
  const actual = crypto.createHash('sha256').update(read(binary, relative)).digest('hex');
  if (actual !== listed[1]) {
    fail(`${relative} has SHA-256 ${actual}, not the ${listed[1]} that SHA256SUMS lists: not run`);
  }

  const child = spawn(binary, [], {
    stdio: 'inherit',
    // The step, and this launcher's mark beside it: the binary reads APP_TOKEN_STEP only
    // with the mark, so that a job's own APP_TOKEN_STEP cannot change the image's step.
    // Its parent too (the runner's worker): a token agent that main leaves ends with it.
    env: {
      ...process.env,
      APP_TOKEN_STEP: step,
      APP_TOKEN_LAUNCHER: 'native/launch.js',
      APP_TOKEN_RUNNER_PID: String(process.ppid),
    },
  });
  if (process.platform === 'win32') {
    // The binary shares the console and gets the runner's Ctrl-C and Ctrl-Break
    // itself; kill() would end it at once, before it revokes. So only wait.
    process.on('SIGINT', () => {});
    process.on('SIGBREAK', () => {});
  } else {
    for (const signal of ['SIGINT', 'SIGTERM']) {
      process.on(signal, () => child.kill(signal));
    }
  }
  child.on('error', (e) => fail(`cannot run ${relative}: ${e.message}`));
  child.on('exit', (code, signal) => {
    process.exit(code !== null ? code : 128 + (os.constants.signals[signal] || 0));
  });
}

module.exports = { launch, SUPPORTED };
