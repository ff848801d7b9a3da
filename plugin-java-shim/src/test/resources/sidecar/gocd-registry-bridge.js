// Stand-in for the bundled sidecar: the tests run a fake "node" script that ignores this file.
