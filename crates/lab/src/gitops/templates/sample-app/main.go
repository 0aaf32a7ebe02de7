// The sample app: answers every HTTP request on :8080 with the version it was built with.
package main

import (
	"fmt"
	"log"
	"net/http"
)

// version is set at build time: go build -ldflags "-X main.version=abc1234".
var version = "dev"

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, version) // the sandbox's simulated image answers the same way
	})
	log.Printf("sample-app %s listening on :8080", version)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
