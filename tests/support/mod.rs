//! Shared support for the end-to-end suites: starting a sandbox and running the real kubectl.
