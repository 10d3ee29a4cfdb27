// Package static embeds the vendored front-end files (htmx, CSS, icons) into the binary,
// so Sluice works air-gapped.
package static

import "embed"

// FS holds every file served under /static/.
//
//go:embed *.css *.js *.svg
var FS embed.FS
