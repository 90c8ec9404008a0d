package cache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/repoglob"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/upstream"
)

// recordingObserver keeps every event, for assertions.
type recordingObserver struct {
	mu       sync.Mutex
	fetches  []FallbackEvent
	reserves []string
}

func (r *recordingObserver) FallbackFetch(e FallbackEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetches = append(r.fetches, e)
}

func (r *recordingObserver) ReserveAnswer(upstreamName, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserves = append(r.reserves, upstreamName+" "+outcome)
}

func (r *recordingObserver) outcomes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.fetches {
		out = append(out, e.Source+" "+e.Kind+" "+e.Outcome)
	}
	return out
}

// fallbackFixture is a cache whose upstream has the given fallbacks, each
// a scripted registry.
type fallbackFixture struct {
	*fixture
	fallbacks []*fakeUpstream
	observer  *recordingObserver
}

type fallbackSpec struct {
	name   string
	prefix string
	repos  []string
}

func newFallbackFixture(t *testing.T, reserve int, specs ...fallbackSpec) *fallbackFixture {
	t.Helper()
	ff := &fallbackFixture{observer: &recordingObserver{}}
	var fallbacks []Fallback
	for _, s := range specs {
		fake := newFakeUpstream(s.name)
		fb := Fallback{Client: fake, PathPrefix: s.prefix}
		for _, g := range s.repos {
			p, err := repoglob.Compile(g)
			if err != nil {
				t.Fatal(err)
			}
			fb.Repositories = append(fb.Repositories, p)
		}
		ff.fallbacks = append(ff.fallbacks, fake)
		fallbacks = append(fallbacks, fb)
	}
	ff.fixture = newFixture(t, time.Minute, func(o *Options) {
		r := o.Remotes[testUpstream]
		r.Fallbacks = fallbacks
		r.QuotaReserve = reserve
		o.Remotes[testUpstream] = r
		o.Observer = ff.observer
	})
	return ff
}

// putBadManifest makes a fake return body for GETs of digest d in repo,
// although the digest of body is not d.
func (f *fakeUpstream) putBadManifest(repo string, d digest.Digest, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manifests[repo+"@"+d.String()] = upstream.Manifest{
		Descriptor: upstream.Descriptor{MediaType: mediaTypeOCI, Digest: d, Size: int64(len(body))}, Body: body}
}

func TestFallbackServesTagWhenUpstreamRefuses(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "mirror", prefix: "docker/"})
	body := manifestBody(1)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
	f.fallbacks[0].putManifest("docker/"+testRepo, "", mediaTypeOCI, body)
	f.up.setErr("GetManifest", quotaErr())

	res := f.get(t, "v1")

	if res.Status != StatusMiss || res.Digest != d || !bytes.Equal(res.Body, body) {
		t.Fatalf("got %s %s, want MISS %s", res.Status, res.Digest, d)
	}
	if n := f.fallbacks[0].count("GetManifest"); n != 1 {
		t.Errorf("fallback GETs = %d, want 1", n)
	}
	if got := f.observer.outcomes(); len(got) != 1 || got[0] != "mirror manifest ok" {
		t.Errorf("observer events %v, want one ok manifest fetch", got)
	}

	again := f.get(t, "v1")
	if again.Status != StatusHit || again.Digest != d {
		t.Errorf("second GET %s %s, want HIT %s: the fallback's manifest must be stored under the tag", again.Status, again.Digest, d)
	}
}

func TestFallbackSkipsMismatchingSource(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "liar"}, fallbackSpec{name: "honest"})
	body := manifestBody(1)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
	f.fallbacks[0].putBadManifest(testRepo, d, manifestBody(666))
	f.fallbacks[1].putManifest(testRepo, "", mediaTypeOCI, body)
	f.up.setErr("GetManifest", unavailableErr())

	res := f.get(t, "v1")

	if res.Digest != d || !bytes.Equal(res.Body, body) {
		t.Fatalf("digest %s, want %s from the honest fallback", res.Digest, d)
	}
	want := []string{"liar manifest mismatch", "honest manifest ok"}
	if got := f.observer.outcomes(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("observer events %v, want %v", got, want)
	}
}

func TestFallbackMismatchAloneFails(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "liar"})
	body := manifestBody(1)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
	bad := manifestBody(666)
	f.fallbacks[0].putBadManifest(testRepo, d, bad)
	f.up.setErr("GetManifest", quotaErr())

	_, err := f.cache.GetManifest(context.Background(), testUpstream, testRepo, "v1")

	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
	if upstream.KindOf(err) != upstream.KindQuota {
		t.Errorf("err = %v, want the upstream's quota error kept in the chain", err)
	}
	for _, dg := range []digest.Digest{d, digest.FromBytes(bad)} {
		if _, err := f.store.Stat(context.Background(), manifestKey(dg)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("manifest %s stored after a mismatch: %v", dg, err)
		}
	}
}

func TestFallbackFirstWhileQuotaSpent(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "mirror"})
	body := manifestBody(1)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
	f.fallbacks[0].putManifest(testRepo, "", mediaTypeOCI, body)
	f.up.rateLimit = &upstream.RateLimit{Limit: 100, Remaining: 0, Window: 6 * time.Hour, Seen: f.clock.Now()}

	res := f.get(t, "v1")

	if res.Digest != d {
		t.Fatalf("digest %s, want %s", res.Digest, d)
	}
	if n := f.up.count("GetManifest"); n != 0 {
		t.Errorf("upstream manifest GETs = %d, want 0 while its quota is known to be spent", n)
	}
	if n := f.up.count("HeadManifest"); n != 1 {
		t.Errorf("upstream manifest HEADs = %d, want 1 to resolve the tag", n)
	}

	// Once the window has passed, the upstream is asked again.
	f.clock.Advance(7 * time.Hour)
	f.up.putManifest(testRepo, "v2", mediaTypeOCI, manifestBody(2))
	f.get(t, "v2")
	if n := f.up.count("GetManifest"); n != 1 {
		t.Errorf("upstream manifest GETs after the window = %d, want 1", n)
	}
}

func TestFallbackNotAskedWhenItDoesNotApply(t *testing.T) {
	tests := []struct {
		name  string
		repos []string
		err   error
	}{
		{name: "upstream 404", err: &upstream.Error{Upstream: testUpstream, Kind: upstream.KindNotFound, Status: 404}},
		{name: "repository not listed", repos: []string{"other/*"}, err: quotaErr()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFallbackFixture(t, 0, fallbackSpec{name: "mirror", repos: tt.repos})
			body := manifestBody(1)
			f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
			f.fallbacks[0].putManifest(testRepo, "", mediaTypeOCI, body)
			f.up.setErr("GetManifest", tt.err)

			if _, err := f.cache.GetManifest(context.Background(), testUpstream, testRepo, "v1"); err == nil {
				t.Fatal("GetManifest succeeded, want the upstream's error")
			}
			if n := f.fallbacks[0].count("GetManifest"); n != 0 {
				t.Errorf("fallback GETs = %d, want 0", n)
			}
		})
	}
}

func TestFallbackUsesStoredTagWhenHeadFails(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "mirror"})
	body := manifestBody(1)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
	f.fallbacks[0].putManifest(testRepo, "", mediaTypeOCI, body)
	f.get(t, "v1")
	// The manifest went (evicted), the tag record stayed.
	if err := f.store.Delete(context.Background(), manifestKey(d)); err != nil {
		t.Fatal(err)
	}
	f.up.setErr("GetManifest", unavailableErr())
	f.up.setErr("HeadManifest", unavailableErr())
	f.clock.Advance(2 * time.Minute)

	res := f.get(t, "v1")

	if res.Digest != d || res.Status != StatusMiss {
		t.Errorf("got %s %s, want MISS %s from the fallback by the stored digest", res.Status, res.Digest, d)
	}
}

func TestBlobFallbackSkipsCorruptSource(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "liar"}, fallbackSpec{name: "honest", prefix: "docker/"})
	data := bytes.Repeat([]byte{9, 8, 7}, 100<<10)
	d := f.up.putBlob(data)
	f.up.setErr("GetBlob", unavailableErr())
	f.fallbacks[0].putBlob(data)
	f.fallbacks[0].corrupt = true
	f.fallbacks[1].putBlob(data)

	blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	got, err := readBlob(t, blob, 0)
	blob.Close()

	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want the %d verified bytes", len(got), err, len(data))
	}
	waitFetchDone(t, f.cache, d)
	if _, err := f.store.Stat(context.Background(), blobKey(d)); err != nil {
		t.Errorf("blob not stored: %v", err)
	}
	want := []string{"liar blob mismatch", "honest blob ok"}
	if got := f.observer.outcomes(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("observer events %v, want %v", got, want)
	}
}

func TestBlobFallbackAllCorruptFails(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "liar"})
	data := bytes.Repeat([]byte{5}, 64<<10)
	d := f.up.putBlob(data)
	f.up.setErr("GetBlob", unavailableErr())
	f.fallbacks[0].putBlob(data)
	f.fallbacks[0].corrupt = true

	blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
	if err == nil {
		got, readErr := readBlob(t, blob, 0)
		blob.Close()
		t.Fatalf("GetBlob returned a blob (%d bytes, read error %v), want the fetch to fail", len(got), readErr)
	}
	if !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("err = %v, want a digest mismatch", err)
	}
	waitFetchDone(t, f.cache, d)
	if _, err := f.store.Stat(context.Background(), blobKey(d)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("corrupt blob stored: %v", err)
	}
}

func TestQuotaReserve(t *testing.T) {
	t.Run("without fallbacks a moved tag is STALE and an unstored tag is fetched", func(t *testing.T) {
		f := newFallbackFixture(t, 5)
		stored := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
		f.get(t, "v1")
		f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(2))
		f.up.rateLimit = &upstream.RateLimit{Limit: 100, Remaining: 5, Window: 6 * time.Hour, Seen: f.clock.Now()}
		f.clock.Advance(2 * time.Minute)

		res := f.get(t, "v1")
		if res.Status != StatusStale || res.Digest != stored {
			t.Errorf("moved tag: %s %s, want STALE %s", res.Status, res.Digest, stored)
		}
		if n := f.up.count("GetManifest"); n != 1 {
			t.Errorf("upstream GETs = %d, want 1: the reserve holds back the moved tag's GET", n)
		}

		fresh := f.up.putManifest(testRepo, "new", mediaTypeOCI, manifestBody(3))
		res = f.get(t, "new")
		if res.Status != StatusMiss || res.Digest != fresh {
			t.Errorf("unstored tag: %s %s, want MISS %s", res.Status, res.Digest, fresh)
		}
		if n := f.up.count("GetManifest"); n != 2 {
			t.Errorf("upstream GETs = %d, want 2: a tag not stored always gets its GET", n)
		}
		if got := f.observer.reserves; len(got) != 1 || got[0] != testUpstream+" "+ReserveStale {
			t.Errorf("reserve events %v, want one stale answer", got)
		}
	})

	t.Run("a fallback serves the moved tag's new digest", func(t *testing.T) {
		f := newFallbackFixture(t, 5, fallbackSpec{name: "mirror"})
		f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
		f.get(t, "v1")
		body := manifestBody(2)
		moved := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
		f.fallbacks[0].putManifest(testRepo, "", mediaTypeOCI, body)
		f.up.rateLimit = &upstream.RateLimit{Limit: 100, Remaining: 3, Window: 6 * time.Hour, Seen: f.clock.Now()}
		f.clock.Advance(2 * time.Minute)

		res := f.get(t, "v1")
		if res.Status != StatusMiss || res.Digest != moved {
			t.Errorf("moved tag: %s %s, want MISS %s from the fallback", res.Status, res.Digest, moved)
		}
		if n := f.up.count("GetManifest"); n != 1 {
			t.Errorf("upstream GETs = %d, want 1", n)
		}
		if got := f.observer.reserves; len(got) != 1 || got[0] != testUpstream+" "+ReserveFallback {
			t.Errorf("reserve events %v, want one fallback answer", got)
		}
		if again := f.get(t, "v1"); again.Status != StatusHit || again.Digest != moved {
			t.Errorf("next GET %s %s, want HIT %s: the tag must point at the new digest", again.Status, again.Digest, moved)
		}
	})
}

func TestHeadFallsBackForDigests(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "mirror"})
	body := manifestBody(1)
	d := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
	f.fallbacks[0].putManifest(testRepo, "", mediaTypeOCI, body)
	data := bytes.Repeat([]byte{4}, 1000)
	bd := f.up.putBlob(data)
	f.fallbacks[0].putBlob(data)
	for _, method := range []string{"HeadManifest", "GetManifest", "HeadBlob", "GetBlob"} {
		f.up.setErr(method, unavailableErr())
	}

	res, err := f.cache.HeadManifest(context.Background(), testUpstream, testRepo, d.String())
	if err != nil || res.Digest != d || res.Size != int64(len(body)) {
		t.Errorf("HEAD manifest by digest: %+v, %v; want %s from the fallback", res, err, d)
	}
	size, status, err := f.cache.HeadBlob(context.Background(), testUpstream, testRepo, bd)
	if err != nil || size != int64(len(data)) || status != StatusMiss {
		t.Errorf("HEAD blob: size %d status %s err %v; want %d MISS", size, status, err, len(data))
	}
	if _, err := f.cache.HeadManifest(context.Background(), testUpstream, testRepo, "v1"); upstream.KindOf(err) != upstream.KindUnavailable {
		t.Errorf("HEAD of an unstored tag = %v, want the upstream's failure: a fallback never resolves a tag", err)
	}
}

func TestMovedTagFromFallbackWhenGetRefused(t *testing.T) {
	f := newFallbackFixture(t, 0, fallbackSpec{name: "mirror"})
	old := f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	f.get(t, "v1")
	body := manifestBody(2)
	moved := f.up.putManifest(testRepo, "v1", mediaTypeOCI, body)
	f.up.setErr("GetManifest", quotaErr())
	f.clock.Advance(2 * time.Minute)

	res := f.get(t, "v1")
	if res.Status != StatusStale || res.Digest != old {
		t.Errorf("without the new digest at the fallback: %s %s, want STALE %s", res.Status, res.Digest, old)
	}

	f.fallbacks[0].putManifest(testRepo, "", mediaTypeOCI, body)
	f.clock.Advance(2 * time.Minute)
	res = f.get(t, "v1")
	if res.Status != StatusMiss || res.Digest != moved {
		t.Errorf("with the new digest at the fallback: %s %s, want MISS %s", res.Status, res.Digest, moved)
	}
}
