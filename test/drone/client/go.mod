module gocd-registry-bridge/test/drone/client

go 1.18

require (
	github.com/docker/distribution v2.7.1+incompatible
	github.com/drone/drone-go v1.7.1
)

require (
	github.com/99designs/httpsignatures-go v0.0.0-20170731043157-88528bf4ca7e // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
)
