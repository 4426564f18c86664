//! Contract tests: the generated client against a real Leads server, pinned with insta.
//! The harness and the suite come with the contract-test issue.
