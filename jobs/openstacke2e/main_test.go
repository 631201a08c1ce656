package openstacke2e

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets more of these tests run at once than the default (one per
// CPU): they spend their time waiting for the provider, which polls the cloud
// at least 3 s apart, not computing. -test.parallel given explicitly wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", "6")
	}
	os.Exit(m.Run())
}
