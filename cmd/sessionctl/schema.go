package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/sessionkv/session/internal/storeconfig"
	"github.com/sessionkv/session/sqlstore"
)

var schemaCommand = &command{
	name:     "schema",
	synopsis: "[--store URL | --dialect sqlite|postgres|mysql [--table NAME]] [--upgrade] [--json]",
	summary:  "print the SQL that creates an SQL store's table",
	details: `
Prints the statements that create the table and indexes of an SQL store,
for teams that run their migrations themselves: in the dialect of the
--store URL (sqlite:, postgres://, mysql://) and for its table (the URL's
"table" parameter, default "sessions"), or in --dialect for --table.
Nothing is connected to. The statements are idempotent (IF NOT EXISTS).
For a django-db: store they are those of Django's first sessions
migration, for its table (default django_session).

A server creates its table when it is missing, and so does migrate in its
target; the other commands never do, and fail on a database without it.

With --upgrade it prints instead the statements that bring a table of the
earlier shape (indexed on expires_ms, without sweep_ms), which servers
refuse, to the current one. They rewrite every row: run them when the
sessions are quiet.`,
	example: `
sessionctl schema --store postgres://app@db.internal:5432/app > sessions.sql
sessionctl schema --dialect mysql --table app_sessions | mysql app
sessionctl schema --upgrade --store postgres://app@db.internal:5432/app | psql app`,
	run: runSchema,
}

// schemaResult is the JSON output of schema.
type schemaResult struct {
	// Store is the store URL, passwords hidden; "" with --dialect.
	Store   string `json:"store,omitempty"`
	Dialect string `json:"dialect"`
	Table   string `json:"table"`
	SQL     string `json:"sql"`
}

func runSchema(ctx context.Context, a *app, args []string) error {
	fs := a.flags()
	storeURL := storeFlag(fs)
	dialectName := fs.String("dialect", "", "print the statements of `DIALECT` (sqlite, postgres or mysql) instead of --store's")
	table := fs.String("table", "", "with --dialect, the table's `NAME` (default "+sqlstore.DefaultTable+")")
	upgrade := fs.Bool("upgrade", false, "print the statements that upgrade a table of the earlier shape, without sweep_ms")
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	var res schemaResult
	var d sqlstore.Dialect
	django := false // Django's table, django_session
	switch {
	case *dialectName != "" && *storeURL != "":
		return usageErrorf("give --store or --dialect, not both")
	case *dialectName != "":
		var err error
		if d, err = dialectOf(*dialectName); err != nil {
			return err
		}
		res.Table = *table
	case *table != "":
		return usageErrorf("--table goes with --dialect; a store URL names its table itself (?table=%s)", printable(*table))
	default:
		spec, err := specOf(*storeURL)
		if err != nil {
			return err
		}
		if spec.Engine != storeconfig.EngineDB && spec.Engine != storeconfig.EngineDjangoDB {
			return usageErrorf("%s: schema works on SQL stores only (sqlite:, postgres://, mysql://, django-db:)", printable(spec.String()))
		}
		t, err := spec.SQLTarget()
		if err != nil {
			return &statusError{exitUsage, err}
		}
		d, res.Store, res.Table, django = t.Dialect, spec.String(), t.Table, spec.IsDjango()
	}
	schema := sqlstore.Schema
	switch {
	case *upgrade && django:
		return usageErrorf("--upgrade: Django's table has no earlier shape to upgrade")
	case *upgrade:
		schema = sqlstore.Upgrade
	case django:
		schema = sqlstore.DjangoSchema
		if res.Table == "" {
			res.Table = sqlstore.DjangoTable
		}
	}
	if res.Table == "" {
		res.Table = sqlstore.DefaultTable
	}
	sql, err := schema(d, res.Table)
	if err != nil {
		return usageErrorf("%s", strings.TrimPrefix(err.Error(), "sqlstore: "))
	}
	res.Dialect, res.SQL = d.String(), sql
	if a.json {
		return a.printJSON(res)
	}
	_, err = fmt.Fprint(a.stdout, res.SQL)
	return err
}

// dialectOf returns the SQL dialect called name.
func dialectOf(name string) (sqlstore.Dialect, error) {
	switch strings.ToLower(name) {
	case "sqlite":
		return sqlstore.SQLite, nil
	case "postgres", "postgresql":
		return sqlstore.PostgreSQL, nil
	case "mysql":
		return sqlstore.MySQL, nil
	}
	return 0, usageErrorf("--dialect %q: want sqlite, postgres or mysql", name)
}
