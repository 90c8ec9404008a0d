package main

import (
	"fmt"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/repoglob"
	"github.com/pullcache/pullcache/internal/server"
)

// routeFor returns the router's view of a configured upstream, with its
// allow and deny patterns compiled.
func routeFor(u config.Upstream) (server.Upstream, error) {
	allow, err := repoglob.CompileAll(u.Allow)
	if err != nil {
		return server.Upstream{}, fmt.Errorf("allow: %w", err)
	}
	deny, err := repoglob.CompileAll(u.Deny)
	if err != nil {
		return server.Upstream{}, fmt.Errorf("deny: %w", err)
	}
	return server.Upstream{Name: u.Name, Default: u.Default, DockerHub: u.IsDockerHub(), Allow: allow, Deny: deny}, nil
}
