package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/pullcache/pullcache/internal/evict"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
)

type gcFlags struct {
	config string
	data   string
	dryRun bool
}

func newGCCommand() *cobra.Command {
	var flags gcFlags
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove unreferenced blobs and leftovers from the store",
		Long: `Remove blobs that no stored manifest names, tag and repository records
whose manifest is gone, and files of interrupted writes, when each is older
than cache.gc_grace, and report what was freed.

On a filesystem store gc takes the store's lock, so it refuses to run while
a pullcache server is serving from the same directory. On S3 it takes the
bucket's maintenance lease, which the replicas' eviction also takes, so it
runs while they serve.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGC(cmd.Context(), cmd.OutOrStdout(), flags)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.config, "config", "", "configuration file (YAML); without it the defaults apply")
	f.StringVar(&flags.data, "data", "", "data directory of the filesystem store (default ./pullcache-data)")
	f.BoolVar(&flags.dryRun, "dry-run", false, "list what would be removed and remove nothing")
	return cmd
}

func runGC(ctx context.Context, out io.Writer, flags gcFlags) error {
	cfg, err := loadServeConfig(serveFlags{config: flags.config, data: flags.data})
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat)

	var store storage.Store
	var location string
	if cfg.Storage.S3 != nil {
		// Replicas keep serving: gc takes the bucket's maintenance lease,
		// the one their eviction takes, so only one of them removes
		// objects at a time.
		opened, err := openS3Store(ctx, *cfg.Storage.S3, log)
		if err != nil {
			return err
		}
		defer opened.close()
		release, ok := opened.maintenanceGate(ctx)
		if !ok {
			return fmt.Errorf("gc %s: maintenance lease is in use by another replica or could not be taken (see the log); try again in a few minutes", opened.location)
		}
		defer release()
		store, location = opened.store, opened.location
	} else {
		fsStore, err := fs.OpenExisting(cfg.Storage.Filesystem.Root, log)
		if err != nil {
			return err
		}
		unlock, err := fsStore.Lock()
		if errors.Is(err, fs.ErrLocked) {
			return fmt.Errorf("%w; stop the server first, or let its eviction (cache.max_size) free room", err)
		}
		if err != nil {
			return err
		}
		defer unlock()
		store, location = fsStore, fsStore.Root()
	}

	res, err := evict.CollectGarbage(ctx, store, evict.GCOptions{
		Grace:           cfg.Cache.GCGrace,
		DryRun:          flags.dryRun,
		MaxManifestSize: int64(cfg.Limits.MaxManifestSize),
		Logger:          log,
	})
	if err != nil {
		return fmt.Errorf("gc %s: %w", location, err)
	}
	printGCResult(out, res, flags.dryRun, cfg.Cache.GCGrace.String())
	return nil
}

func printGCResult(out io.Writer, res evict.GCResult, dryRun bool, grace string) {
	verb := "removed"
	if dryRun {
		verb = "would remove"
		for _, key := range res.Keys {
			fmt.Fprintln(out, key)
		}
		for _, path := range res.LeftoverPaths {
			fmt.Fprintln(out, path)
		}
	}
	if len(res.Undecodable) > 0 {
		fmt.Fprintf(out, "%s not decode and count as dangling: %s\n",
			plural(len(res.Undecodable), "tag record does", "tag records do"), strings.Join(res.Undecodable, ", "))
	}
	fmt.Fprintf(out, "%s %d unreferenced blobs (%s), %d dangling records (%s), %d leftover temporary files (%s)\n",
		verb, res.Blobs, bytesText(res.BlobBytes), res.Records, bytesText(res.RecordBytes), res.Leftovers, bytesText(res.LeftoverBytes))
	fmt.Fprintf(out, "%s %s in total; objects younger than %s (cache.gc_grace) were kept\n", verb, bytesText(res.Freed()), grace)
}

func bytesText(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
