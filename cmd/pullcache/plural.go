package main

import "fmt"

// plural returns n followed by singular when n is 1, or by pluralForm
// otherwise.
func plural(n int, singular, pluralForm string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, singular)
	}
	return fmt.Sprintf("%d %s", n, pluralForm)
}
