package secret

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

const (
	// rejectionLogInterval spaces the error logged while upstream keeps
	// refusing the configured credentials, so a busy mirror does not log it
	// on every pull.
	rejectionLogInterval = time.Minute

	// resolveTimeout bounds one resolution of both references, so a secret
	// store that does not respond cannot hang start-up or a refresh.
	resolveTimeout = 30 * time.Second
)

// CredentialsOptions configures a Credentials.
type CredentialsOptions struct {
	// Upstream names the upstream in errors and log lines.
	Upstream string

	// Username and Password are literals or references. Both empty (and no
	// DockerConfig) means anonymous.
	Username, Password string

	// DockerConfig, when set, replaces Username and Password: it returns
	// the pair from the Docker config file. Describe names its source.
	DockerConfig func(ctx context.Context) (username, password string, err error)
	Describe     string

	// Resolver resolves the references. nil means a zero Resolver.
	Resolver *Resolver

	// Logger receives refresh failures and rejections. nil discards.
	Logger *slog.Logger

	// Clock returns the current time. nil means time.Now.
	Clock func() time.Time

	// OnRejected, when set, is called each time upstream refuses the
	// current credentials, for a metric.
	OnRejected func(upstream string)
}

// Credentials holds one upstream's resolved username and password and keeps
// them fresh: Load resolves them, Run resolves them again on an interval,
// and Rejected starts a re-resolution at once. A failed resolution keeps the
// last good pair. While upstream refuses the current pair, Get returns
// anonymous credentials, so pulls go on with the anonymous quota. It is safe for
// concurrent use.
type Credentials struct {
	opts     CredentialsOptions
	resolver *Resolver
	log      *slog.Logger

	mu           sync.Mutex
	user, pass   string
	loaded       bool
	rejected     bool // upstream rejected user and pass
	lastRejected time.Time
	reloading    bool
}

// NewCredentials returns credentials that are not resolved yet; call Load.
func NewCredentials(o CredentialsOptions) *Credentials {
	if o.Resolver == nil {
		o.Resolver = &Resolver{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Credentials{opts: o, resolver: o.Resolver, log: o.Logger.With("upstream", o.Upstream)}
}

// Configured reports whether any credentials are set, as opposed to
// anonymous access.
func (c *Credentials) Configured() bool {
	return c.opts.DockerConfig != nil || c.opts.Username != "" || c.opts.Password != ""
}

// Source describes where the pair comes from, for messages: the references
// as written, never a value.
func (c *Credentials) Source() string {
	switch {
	case c.opts.DockerConfig != nil:
		return c.opts.Describe
	case !c.Configured():
		return "anonymous"
	}
	user := c.opts.Username
	if !IsReference(user) {
		user = "(literal)"
	}
	pass := "(literal)"
	if IsReference(c.opts.Password) {
		pass = c.opts.Password
	}
	return fmt.Sprintf("username %s, password %s", user, pass)
}

// Load resolves the credentials now. On failure the error names the
// upstream and the reference, and the last good pair stays in use. A
// successful Load also lifts an earlier rejection, so credentials that were
// rejected once are tried again on each refresh.
func (c *Credentials) Load(ctx context.Context) error {
	user, pass, err := c.resolve(ctx)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", c.opts.Upstream, err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	c.user, c.pass, c.loaded, c.rejected = user, pass, true, false
	return nil
}

func (c *Credentials) resolve(ctx context.Context) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()

	if c.opts.DockerConfig != nil {
		user, pass, err := c.opts.DockerConfig(ctx)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", c.opts.Describe, err)
		}
		return user, pass, nil
	}
	if !c.Configured() {
		return "", "", nil
	}

	user, err := c.resolver.Resolve(ctx, c.opts.Username)
	if err != nil {
		return "", "", fmt.Errorf("username: %w", err)
	}
	pass, err := c.resolver.Resolve(ctx, c.opts.Password)
	if err != nil {
		return "", "", fmt.Errorf("password: %w", err)
	}
	return user, pass, nil
}

// Get returns the pair to send: the resolved one, or two empty strings
// (anonymous) while upstream refuses it. It resolves only when nothing was
// loaded yet.
func (c *Credentials) Get(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	loaded := c.loaded
	c.mu.Unlock()

	if !loaded {
		if err := c.Load(ctx); err != nil {
			return "", "", err
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	if c.rejected {
		return "", "", nil
	}
	return c.user, c.pass, nil
}

// Username returns the resolved username, which is not a secret; "" when
// anonymous or not loaded.
func (c *Credentials) Username() string {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.user
}

// Rejected records that upstream rejected user and pass. If they are still
// the current, non-empty pair, Get returns anonymous credentials until a
// different pair is resolved. The rejection is counted and logged (at most
// once a minute), and the references are resolved again. The call that
// starts this reload waits up to rejectionReloadWait for it, so that the
// request that met the rejection can retry with a secret rotated in the
// meantime. A call made while a reload is running returns at once.
func (c *Credentials) Rejected(user, pass string) {
	c.mu.Lock()
	if c.rejected || !c.loaded || user != c.user || pass != c.pass || (user == "" && pass == "") {
		c.mu.Unlock()
		return
	}
	c.rejected = true
	now := c.opts.Clock()
	logIt := c.lastRejected.IsZero() || now.Sub(c.lastRejected) >= rejectionLogInterval
	if logIt {
		c.lastRejected = now
	}
	startReload := !c.reloading
	c.reloading = true
	c.mu.Unlock()

	if c.opts.OnRejected != nil {
		c.opts.OnRejected(c.opts.Upstream)
	}
	if logIt {
		c.log.Error("upstream rejected the configured credentials; pulling anonymously until they change or the next refresh",
			slog.String("user", user), slog.String("source", c.Source()))
	}
	if !startReload {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.reloadAfterRejection(user, pass)
	}()
	timer := time.NewTimer(rejectionReloadWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
}

// rejectionReloadWait bounds how long the request that met a rejection
// waits for the references to resolve again. A slower secret store still
// finishes in the background and lifts the rejection when the value changed.
const rejectionReloadWait = 5 * time.Second

// reloadAfterRejection resolves the references again. Only a pair that
// differs from the rejected one lifts the rejection; the same pair waits for
// the next interval refresh.
func (c *Credentials) reloadAfterRejection(user, pass string) {
	newUser, newPass, err := c.resolve(context.Background())

	c.mu.Lock()
	defer c.mu.Unlock()

	c.reloading = false
	if err != nil {
		c.log.Error("failed to resolve credentials again after upstream rejected them", slog.Any("err", fmt.Errorf("upstream %s: %w", c.opts.Upstream, err)))
		return
	}
	if newUser == user && newPass == pass {
		return
	}
	c.user, c.pass, c.rejected = newUser, newPass, false
	c.log.Info("credentials changed after upstream rejected them; using the new ones", slog.String("user", newUser))
}

// Run resolves the credentials again every interval until ctx ends. A
// failure is logged and the last good pair stays in use. An interval of 0
// returns at once.
func (c *Credentials) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 || !c.Configured() {
		return
	}

	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}

		if err := c.Load(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("refresh credentials; keeping the last good ones", slog.Any("err", err))
		}
	}
}
