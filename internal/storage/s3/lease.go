package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// leasesPrefix holds the lease objects, outside the keys of the store.
const leasesPrefix = ".leases/"

// maxLeaseRecord bounds the read of a lease object.
const maxLeaseRecord = 64 << 10

// ErrLeaseHeld is returned (wrapped) by TryAcquire while another holder's
// lease is in force.
var ErrLeaseHeld = errors.New("lease held by another replica")

// Lease elects one replica at a time for work such as eviction and gc,
// with no coordinator beyond the bucket. The lease is an object written
// with a conditional PUT. If-None-Match: * creates it only when it does
// not exist. If-Match: ETAG renews or takes it over only when no other
// writer changed it in between. So among replicas racing for it, exactly
// one wins.
//
// A holder renews the lease every third of its TTL. A lease that is not
// renewed expires, and another replica may take it over, so a crashed
// holder blocks the work for at most one TTL. Expiry compares the replicas'
// clocks, which must agree to well within the TTL.
type Lease struct {
	store  *Store
	name   string
	holder string
	ttl    time.Duration
}

// leaseRecord is the lease object's content.
type leaseRecord struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// Lease returns the lease called name (such as "gc") with the given TTL,
// held by this store as a holder unique to the process.
func (s *Store) Lease(name string, ttl time.Duration) *Lease {
	return &Lease{store: s, name: name, holder: newHolderID(), ttl: ttl}
}

func newHolderID() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Gate tries once to take the lease and, when it got it, keeps it renewed
// until release is called. It has the shape of the hook with which eviction
// and gc ask whether this replica may run now.
func (l *Lease) Gate(ctx context.Context) (release func(), ok bool) {
	heldLease, err := l.TryAcquire(ctx)
	if err != nil {
		if !errors.Is(err, ErrLeaseHeld) {
			l.store.logger.Warn("take lease", slog.String("lease", l.name), slog.Any("err", err))
		}
		return nil, false
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), failTimeout)
		defer cancel()
		if err := heldLease.Release(ctx); err != nil {
			l.store.logger.Warn("release lease", slog.String("lease", l.name), slog.Any("err", err))
		}
	}, true
}

// TryAcquire takes the lease if it is free or expired, and starts renewing
// it. It returns ErrLeaseHeld while another holder's lease is in force.
func (l *Lease) TryAcquire(ctx context.Context) (*HeldLease, error) {
	etag, err := l.put(ctx, nil)
	if isPreconditionFailed(err) {
		etag, err = l.takeOver(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", l.name, err)
	}

	lostCtx, lose := context.WithCancel(context.Background())
	h := &HeldLease{lease: l, etag: etag, lostCtx: lostCtx, lose: lose, stop: make(chan struct{}), stopped: make(chan struct{})}
	go h.renewLoop()
	return h, nil
}

// takeOver replaces an expired lease, conditionally on it being the lease
// that was read, so that of several replicas only one takes it over.
func (l *Lease) takeOver(ctx context.Context) (string, error) {
	out, err := l.store.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(l.store.bucket),
		Key:    aws.String(l.objectKey()),
	})
	if isNotFound(err) {
		// Deleted after our create failed; try to create it once more.
		etag, err := l.put(ctx, nil)
		if isPreconditionFailed(err) {
			return "", ErrLeaseHeld
		}
		return etag, err
	}
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	defer out.Body.Close()

	var current leaseRecord
	data, err := io.ReadAll(io.LimitReader(out.Body, maxLeaseRecord))
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	// An unreadable record counts as expired: it cannot name a holder.
	if json.Unmarshal(data, &current) == nil && l.store.now().Before(current.Expires) {
		return "", fmt.Errorf("%w (%s, until %s)", ErrLeaseHeld, current.Holder, current.Expires.Format(time.RFC3339))
	}

	etag, err := l.put(ctx, out.ETag)
	if isPreconditionFailed(err) || isNotFound(err) {
		return "", ErrLeaseHeld
	}
	return etag, err
}

// put writes a lease record that expires one TTL from now: only when no
// lease object exists (ifMatch nil) or only over the given ETag.
func (l *Lease) put(ctx context.Context, ifMatch *string) (string, error) {
	return l.write(ctx, ifMatch, l.store.now().Add(l.ttl))
}

func (l *Lease) write(ctx context.Context, ifMatch *string, expires time.Time) (string, error) {
	body, err := json.Marshal(leaseRecord{Holder: l.holder, Expires: expires.UTC()})
	if err != nil {
		return "", err
	}
	input := &s3.PutObjectInput{
		Bucket:      aws.String(l.store.bucket),
		Key:         aws.String(l.objectKey()),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}
	if ifMatch == nil {
		input.IfNoneMatch = aws.String("*")
	} else {
		input.IfMatch = ifMatch
	}
	out, err := l.store.client.PutObject(ctx, input)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

func (l *Lease) objectKey() string {
	return l.store.prefix + leasesPrefix + l.name
}

// HeldLease is a lease this replica holds. It is renewed in the background
// until Release, or until a renewal finds that another replica took it.
type HeldLease struct {
	lease *Lease

	mu   sync.Mutex // guards etag between renewals and Release
	etag string

	lostCtx context.Context
	lose    context.CancelFunc
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// Context is canceled when the lease is lost or released; work done under
// the lease should stop then.
func (h *HeldLease) Context() context.Context { return h.lostCtx }

// Renew extends the lease by one TTL from now. It fails, and cancels
// Context, when another replica has taken the lease over.
func (h *HeldLease) Renew(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lostCtx.Err() != nil {
		return fmt.Errorf("lease %s: %w", h.lease.name, ErrLeaseHeld)
	}

	etag, err := h.lease.put(ctx, aws.String(h.etag))
	if isPreconditionFailed(err) || isNotFound(err) {
		h.lose()
		return fmt.Errorf("lease %s: renew: %w", h.lease.name, ErrLeaseHeld)
	}
	if err != nil {
		return fmt.Errorf("lease %s: renew: %w", h.lease.name, err)
	}
	h.etag = etag
	return nil
}

// Release stops the renewals and marks the lease expired, so that another
// replica can take it at once. A lease already lost is left alone.
func (h *HeldLease) Release(ctx context.Context) error {
	h.once.Do(func() { close(h.stop) })
	<-h.stopped

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lostCtx.Err() != nil {
		return nil
	}
	h.lose()
	_, err := h.lease.write(ctx, aws.String(h.etag), time.Time{})
	if err != nil && !isPreconditionFailed(err) && !isNotFound(err) {
		return fmt.Errorf("lease %s: release: %w", h.lease.name, err)
	}
	return nil
}

// renewLoop renews every third of the TTL. After a failed renewal it keeps
// trying; a lease not renewed before it expires counts as lost.
func (h *HeldLease) renewLoop() {
	defer close(h.stopped)
	interval := h.lease.ttl / 3
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	lastRenewed := time.Now()

	for {
		select {
		case <-h.stop:
			return
		case <-h.lostCtx.Done():
			return
		case <-ticker.C:
		}

		ctx, cancel := context.WithTimeout(context.Background(), interval)
		err := h.Renew(ctx)
		cancel()
		switch {
		case err == nil:
			lastRenewed = time.Now()
		case errors.Is(err, ErrLeaseHeld):
			h.lease.store.logger.Warn("lease lost to another replica", slog.String("lease", h.lease.name))
			return
		case time.Since(lastRenewed) >= h.lease.ttl:
			h.lease.store.logger.Warn("lease expired before it could be renewed", slog.String("lease", h.lease.name), slog.Any("err", err))
			h.lose()
			return
		default:
			h.lease.store.logger.Warn("renew lease, retrying", slog.String("lease", h.lease.name), slog.Any("err", err))
		}
	}
}
