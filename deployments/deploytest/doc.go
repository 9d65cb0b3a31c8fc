// Package deploytest checks the deployment files (docker-compose.yml,
// .env.example, deployments/Dockerfile and the kustomization in
// deployments/k8s) statically, with the parsers their tools use: compose-go's
// loader, kustomize's krusty and Kubernetes' own API types, decoded strictly.
//
// What each service reads is not listed here: it is derived from the source,
// the `env:` tags of services/<svc>/internal/config and the pkg config structs
// they embed, so a setting added there is checked here the same day.
package deploytest
