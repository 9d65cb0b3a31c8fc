// Package js holds the JavaScript client (src/index.js, the npm package
// @stripeline/client) for Go code that serves it: the api's demo page embeds
// it from here, so there is one copy of the library. npm ignores this file
// (package.json "files").
package js

import _ "embed"

// Client is src/index.js, the ES module.
//
//go:embed src/index.js
var Client []byte
