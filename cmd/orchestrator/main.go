// Command orchestrator is the whole product in one binary: the service (`serve`),
// the translator (`tosca2tf`), toolchain lookup for the Makefile (`toolchain`),
// and the command-line client of the REST API.
package main

import (
	"fmt"
	"os"
)

// version is the service's version, reported by /api/v1/version.
var version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:]))
}

// Exit codes shared by every command.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func run(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCommand(rest)
	case "toolchain":
		return toolchainCommand(rest)
	case "version", "--version":
		fmt.Println("orchestrator", version)
		return exitOK
	case "help", "-h", "--help":
		usage(os.Stdout)
		return exitOK
	}
	if code, ok := runExtra(cmd, rest); ok {
		return code
	}
	fmt.Fprintf(os.Stderr, "orchestrator: unknown command %q\n\n", cmd)
	usage(os.Stderr)
	return exitUsage
}

// extraCommands are registered by the other files of this package (client, tosca2tf).
var extraCommands = map[string]func([]string) int{}

func runExtra(cmd string, args []string) (int, bool) {
	f, ok := extraCommands[cmd]
	if !ok {
		return 0, false
	}
	return f(args), true
}

func usage(w *os.File) {
	fmt.Fprint(w, `usage: orchestrator COMMAND [flags]

Service:
  serve        run the REST service (see --help for its flags)
  tosca2tf     translate a TOSCA template into a Terraform root module
  toolchain    find the Terraform binary (used by the Makefile)
  version      print the version
`)
	if len(extraCommands) > 0 {
		fmt.Fprint(w, clientUsage)
	}
}

// clientUsage is filled by the client commands' file.
var clientUsage = ""
