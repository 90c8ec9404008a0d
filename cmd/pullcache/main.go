// Command pullcache is a pull-through cache for container registries.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if isCredentialHelperName(os.Args[0]) {
		os.Exit(runAsCredentialHelper(os.Args[1:]))
	}
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "pullcache:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "pullcache",
		Short:         "A pull-through cache for container registries",
		Long:          "pullcache mirrors container registries such as Docker Hub: it fetches each manifest and blob once and answers later pulls from its store, revalidating tags with HEAD requests that do not count against Docker Hub's pull limit.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newVersionCommand())
	root.AddCommand(newGCCommand(), newWarmCommand())
	root.AddCommand(newHealthcheckCommand())
	root.AddCommand(newConfigCommand(), newRatelimitCommand(), newCredentialHelperCommand())
	root.AddCommand(newStatusCommand())
	return root
}
