"""Loading: registers, policies, waivers, config and policy tests, each checked against a JSON
Schema shipped in the package before anything else sees it."""
