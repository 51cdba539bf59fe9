// composeconfig prints, as JSON, the project that `docker compose [-f FILE]... [--env-file FILE]
// [--profile NAME]... up [SERVICE...]` would act on, without a Docker engine. It loads the files with
// compose-go, the loader Docker Compose itself uses: schema validation, interpolation, merge of override
// files (!reset, !override), profiles, and the selection of SERVICE... with their dependencies.
//
// tests/docker/test_compose.py builds and runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var files, envFiles, profiles list
	flag.Var(&files, "f", "compose file (repeatable, in order)")
	flag.Var(&envFiles, "env-file", "env file (repeatable)")
	flag.Var(&profiles, "profile", "profile to enable (repeatable; default: $COMPOSE_PROFILES)")
	flag.Parse()
	if err := run(files, envFiles, profiles, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(files, envFiles, profiles, services []string) error {
	options, err := cli.NewProjectOptions(files,
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(profiles...),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	if len(services) > 0 { // `up SERVICE...`: targeted services are enabled, and their dependencies start too
		if project, err = project.WithServicesEnabled(services...); err != nil {
			return err
		}
		if project, err = project.WithSelectedServices(services); err != nil {
			return err
		}
	}
	project = project.WithoutUnresolvedOptionalDependencies()
	for name, service := range project.Services {
		for dependency := range service.DependsOn {
			if _, ok := project.Services[dependency]; !ok {
				return fmt.Errorf("service %q depends on %q, which is not started", name, dependency)
			}
		}
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	var pretty map[string]any
	if err := json.Unmarshal(out, &pretty); err != nil {
		return err
	}
	pretty["disabled_services"] = keys(project.DisabledServices)
	encoded, err := json.MarshalIndent(pretty, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(encoded, '\n'))
	return err
}

func keys(services types.Services) []string {
	names := []string{}
	for name := range services {
		names = append(names, name)
	}
	return names
}
