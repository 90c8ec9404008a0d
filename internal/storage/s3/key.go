package s3

import "github.com/pullcache/pullcache/internal/storage"

// reservedPrefix starts the names the store keeps for itself below its
// prefix, such as the lease objects under .leases/.
const reservedPrefix = "."

// checkKey returns a wrapped storage.ErrInvalidKey unless key follows the
// store's key rules and its first element does not start with ".".
func checkKey(key string) error {
	return storage.CheckKey(key, reservedPrefix)
}

// checkPrefix applies the rules of checkKey to a Walk prefix.
func checkPrefix(prefix string) error {
	return storage.CheckPrefix(prefix, reservedPrefix)
}

// isStoreKey reports whether an S3 key below the prefix is an object of the
// store, as opposed to the store's own objects or foreign ones.
func isStoreKey(key string) bool {
	return checkKey(key) == nil
}
