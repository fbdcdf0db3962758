// Package proctest runs helper processes for tests: the running test
// binary started again to play a named helper instead of running its
// tests, so that a test can exercise what only another process shows
// (file locks across processes, a holder that is stopped or killed, a
// race report at exit).
//
// The package's TestMain dispatches to its helpers first:
//
//	func TestMain(m *testing.M) {
//		if name, args, ok := proctest.Helper(); ok {
//			os.Exit(runHelper(name, args))
//		}
//		goleak.VerifyTestMain(m)
//	}
//
// and a test starts one with arguments, or with variables added to its
// environment:
//
//	p := proctest.Start(t, proctest.Command("hold", path))
//	w := proctest.StartHelper(t, "worker", "ADDR="+addr)
//	line, err := p.Expect("locked", 10*time.Second)
//
// A started helper is killed by its PID when the test ends, if it is still
// running, and waited for; nothing else is signalled. Only tests import
// this package.
package proctest
