package etcdlock_test

const helperEnv = "ETCDLOCK_TEST_HELPER"

func runHelper(mode string) int { return 2 }
