// Runs in every jest worker before the tests (jest.config.js setupFiles); child processes the
// tests start inherit it. The AWS SDK warns once per process that its releases after January
// 2027 need Node 22: expected on this Node 20 machine, and noise in every suite's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
