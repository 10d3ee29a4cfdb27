package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"sluice/config"
	"sluice/models"
	"sluice/secrets"
)

// oldKeyEnv names the key being replaced. It is given to `keys rotate` and `keys check`
// only, once, never to a running instance (those take "NEW,OLD" in SLUICE_SECRET_KEY).
const oldKeyEnv = "SLUICE_OLD_SECRET_KEY"

const keysUsage = `usage: sluice keys rotate|check

  rotate   re-seal every stored secret under SLUICE_SECRET_KEY; the key it replaces is
           read from SLUICE_OLD_SECRET_KEY. Safe beside running instances, resumable,
           and a second run does nothing.
  check    count the stored secrets by the key that opens them; fails while any still
           needs SLUICE_OLD_SECRET_KEY (or opens under no key), so the old key may be
           dropped once it passes without it
See docs/operations.md for the whole procedure`

// keysCommand runs `sluice keys rotate` and `sluice keys check`.
func keysCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) != 1 || (args[0] != "rotate" && args[0] != "check") {
		return errors.New(keysUsage)
	}
	box, err := secretBox(cfg)
	if err != nil {
		return err
	}
	rawOld := getenv(oldKeyEnv)
	if rawOld == "" && args[0] == "rotate" {
		return fmt.Errorf("keys rotate: set %s to the key being replaced, and SLUICE_SECRET_KEY to the new one", oldKeyEnv)
	}
	if rawOld != "" {
		old, err := secrets.ParseKey(rawOld)
		if err != nil {
			return fmt.Errorf("keys: %s: %w", oldKeyEnv, err)
		}
		oldBox, err := secrets.New(old)
		if err != nil {
			return fmt.Errorf("keys: %s: %w", oldKeyEnv, err)
		}
		// A key is compared through what it derives, so that a key read from the data
		// dir's key file compares as well as one given in the environment.
		if bytes.Equal(oldBox.DeriveKey("key-compare", 32), box.DeriveKey("key-compare", 32)) {
			return fmt.Errorf("keys: %s is the current key: set SLUICE_SECRET_KEY to the new key first", oldKeyEnv)
		}
		if box, err = box.WithPrevious(old); err != nil {
			return fmt.Errorf("keys: %s: %w", oldKeyEnv, err)
		}
	}
	store, err := models.Open(cfg.DatabaseURL, box)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	if args[0] == "check" {
		return keysCheck(ctx, store, stdout)
	}
	return keysRotate(ctx, store, stdout)
}

func keysRotate(ctx context.Context, store *models.Store, stdout io.Writer) error {
	n, err := store.RotateSecrets(ctx)
	if errors.Is(err, models.ErrUnreadableSecrets) {
		return fmt.Errorf("keys rotate: neither SLUICE_SECRET_KEY nor %s opens some stored secrets: is %s the key they were sealed with? Nothing was changed.\n(%w)", oldKeyEnv, oldKeyEnv, err)
	}
	if err != nil {
		return fmt.Errorf("keys rotate: stopped after re-sealing %d secrets, the others still open under either key; run it again to finish: %w", n, err)
	}
	count, err := store.CountSecrets(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-sealed %d secrets under the new key; %d stored secrets in all\n", n, count.Current+count.Previous+len(count.Unreadable))
	if count.Previous > 0 {
		// Only an instance still sealing with the old key writes those: one not
		// restarted with SLUICE_SECRET_KEY=NEW,OLD.
		return fmt.Errorf("keys rotate: %d secrets were sealed under the old key while it ran: an instance still seals with it. Restart every instance with SLUICE_SECRET_KEY=NEW,OLD and run it again", count.Previous)
	}
	fmt.Fprintln(stdout, "every stored secret opens under the new key: the old one may be dropped")
	return nil
}

func keysCheck(ctx context.Context, store *models.Store, stdout io.Writer) error {
	count, err := store.CountSecrets(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d stored secrets under the current key, %d only under the old key, %d under no key given\n",
		count.Current, count.Previous, len(count.Unreadable))
	for _, owner := range count.Unreadable {
		fmt.Fprintln(stdout, "  opens under no key:", owner)
	}
	switch {
	case len(count.Unreadable) > 0:
		return fmt.Errorf("keys check: %d stored secrets open under no key given", len(count.Unreadable))
	case count.Previous > 0:
		return fmt.Errorf("keys check: %d stored secrets still need the old key: run sluice keys rotate", count.Previous)
	}
	return nil
}
