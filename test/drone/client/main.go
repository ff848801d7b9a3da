// A Drone runner's side of the registry extension, for test/drone: it calls the endpoint through drone-go's own
// plugin/registry client (the version drone-runner-docker pins) and matches the answer to images with
// docker/distribution's reference parser (the runner's version), so the jest tests check our server against the
// code a runner runs rather than against our reading of it. Reads one JSON job on stdin, writes one JSON result.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/docker/distribution/reference"
	"github.com/drone/drone-go/drone"
	"github.com/drone/drone-go/plugin/registry"
)

type job struct {
	// list: POST the request to endpoint, signed with secret, as the runner does once per stage.
	Endpoint   string           `json:"endpoint"`
	Secret     string           `json:"secret"`
	SkipVerify bool             `json:"skip_verify"`
	Request    registry.Request `json:"request"`
	// Images whose credential the runner would pick from the answer: the first registry that matches each.
	Images []string `json:"images"`
	// match: only compare image and address pairs, without calling anything.
	Pairs []struct {
		Image   string `json:"image"`
		Address string `json:"address"`
	} `json:"pairs"`
}

type result struct {
	Registries []*drone.Registry  `json:"registries"`
	Error      string             `json:"error,omitempty"`
	Status     int                `json:"status,omitempty"`
	Picked     map[string]*string `json:"picked,omitempty"`
	Matches    []bool             `json:"matches,omitempty"`
}

func main() {
	var in job
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail(err)
	}
	out := result{Registries: []*drone.Registry{}}
	if in.Endpoint != "" {
		// The runner's own limit on the call (runner-go registry/external.go).
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		registries, err := registry.Client(in.Endpoint, in.Secret, in.SkipVerify).List(ctx, &in.Request)
		if err != nil {
			out.Error = err.Error()
			var droneErr *drone.Error
			if errors.As(err, &droneErr) {
				out.Status = droneErr.Code
			}
		} else if registries != nil { // a JSON null leaves none, which reads as none here too
			out.Registries = registries
		}
		out.Picked = map[string]*string{}
		for _, image := range in.Images {
			out.Picked[image] = nil
			for _, r := range out.Registries {
				if matchHostname(image, r.Address) {
					address := r.Address
					out.Picked[image] = &address
					break
				}
			}
		}
	}
	for _, pair := range in.Pairs {
		out.Matches = append(out.Matches, matchHostname(pair.Image, pair.Address))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

// matchHostname: whether a credential's address applies to an image, by the rules of the spec's section 4 (the
// runner's MatchHostname): the image's domain as docker/distribution computes it, compared exactly with the
// address, after index.docker.io becomes docker.io and an http(s) URL becomes its host.
func matchHostname(image, address string) bool {
	ref, err := reference.ParseAnyReference(image)
	if err != nil {
		return false
	}
	named, err := reference.ParseNamed(ref.String())
	if err != nil {
		return false
	}
	if address == "index.docker.io" {
		address = "docker.io"
	}
	if strings.HasPrefix(address, "http://") || strings.HasPrefix(address, "https://") {
		if parsed, err := url.Parse(address); err == nil {
			address = parsed.Host
		}
	}
	return reference.Domain(named) == address
}

func fail(err error) {
	os.Stderr.WriteString(err.Error() + "\n")
	os.Exit(1)
}
