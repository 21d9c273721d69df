// Command config loads docker-compose.yml as `docker compose config` does, with compose-go, the library
// Docker Compose itself is built on: the Compose Specification's schema, interpolation from the
// environment and the env file, the references between services, secrets, volumes and networks. It prints
// the resolved project as JSON (as `docker compose config --format json` would), or the loader's error.
//
// Usage: config [-env-file FILE] COMPOSE_FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	envFile := flag.String("env-file", "", "the env file compose reads (.env beside the compose file by default)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: config [-env-file FILE] COMPOSE_FILE")
		os.Exit(2)
	}
	// every profile: the services a profile turns on are checked too
	options := []cli.ProjectOptionsFn{cli.WithOsEnv, cli.WithDotEnv, cli.WithName("envol"), cli.WithProfiles([]string{"*"})}
	if *envFile != "" {
		options = append([]cli.ProjectOptionsFn{cli.WithEnvFiles(*envFile)}, options...)
	}
	projectOptions, err := cli.NewProjectOptions([]string{flag.Arg(0)}, options...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := projectOptions.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(json))
}
