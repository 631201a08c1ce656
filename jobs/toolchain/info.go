package toolchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Toolchain is the Terraform binary, the provider mirror and the CLI config the
// engine runs every deployment with.
type Toolchain struct {
	Terraform        string
	TerraformVersion string
	ProvidersDir     string
	// CLIConfig is the path of our CLI config file (filesystem mirror only).
	CLIConfig string
	Providers []Provider

	mu        sync.Mutex
	checkedAt time.Time
	checkErr  error
}

// Load checks the binary and the mirror and writes the CLI config to cliConfig.
func Load(ctx context.Context, terraformPath, providersDir, cliConfig string) (*Toolchain, error) {
	abs, err := filepath.Abs(providersDir)
	if err != nil {
		return nil, fmt.Errorf("providers dir %s: %w", providersDir, err)
	}
	v, err := Version(ctx, terraformPath)
	if err != nil {
		return nil, err
	}
	providers, err := Providers(abs)
	if err != nil {
		return nil, err
	}
	if err := WriteCLIConfig(cliConfig, abs); err != nil {
		return nil, err
	}
	return &Toolchain{Terraform: terraformPath, TerraformVersion: v.String(), ProvidersDir: abs, CLIConfig: cliConfig,
		Providers: providers, checkedAt: time.Now()}, nil
}

// Check says whether Terraform still runs and the mirror is still there; the
// answer is cached for a few seconds so readiness probes stay cheap.
func (t *Toolchain) Check(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.checkedAt) < 10*time.Second {
		return t.checkErr
	}
	t.checkedAt = time.Now()
	if _, err := Version(ctx, t.Terraform); err != nil {
		t.checkErr = err
		return err
	}
	if _, err := os.Stat(t.CLIConfig); err != nil {
		t.checkErr = fmt.Errorf("terraform CLI config: %w", err)
		return t.checkErr
	}
	_, t.checkErr = Providers(t.ProvidersDir)
	return t.checkErr
}

// Versions reports Terraform's and the providers' versions.
func (t *Toolchain) Versions() map[string]any {
	return map[string]any{"terraform": t.TerraformVersion, "providers": t.Providers}
}
