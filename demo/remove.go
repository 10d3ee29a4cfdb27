package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sluice/core"
	"sluice/destinations/sandbox"
	"sluice/models"
	"sluice/sources/sqlite"
)

// Remove deletes every object the demo seed made in the actor's workspace (activations
// with their runs, segments, models, platforms with their inbox and grant, the source,
// and the incidents and issues about them), in that order so nothing
// is deleted while a demo object still uses it, then the demo warehouse file. An object
// already deleted by hand is skipped. What a user made stays: one of theirs that uses a
// demo object (a segment on a demo model) stops the removal with the store's message,
// the rest of the demo kept.
func Remove(ctx context.Context, store *models.Store, wh *core.Service, a models.Actor, dataDir string) error {
	objs, err := store.DemoObjects(ctx, a.WorkspaceID)
	if err != nil {
		return err
	}
	del := map[string]func(context.Context, models.Actor, string) error{
		models.DemoActivation: wh.DeleteActivation,
		models.DemoSegment:    wh.DeleteSegment,
		models.DemoModel:      wh.DeleteModel,
		models.DemoPlatform:   wh.DeletePlatform,
		models.DemoSource:     wh.DeleteSource,
	}
	// The OAuth Sandbox's grant at the built-in authorization server goes with its
	// platform: read now, revoked once the platform is deleted.
	var refresh []string
	for _, id := range objs[models.DemoPlatform] {
		if p, err := store.PlatformByID(ctx, a.WorkspaceID, id); err == nil && p.Kind == sandbox.KindOAuth && p.HasGrant() {
			if g, err := store.PlatformGrant(p); err == nil {
				refresh = append(refresh, g.RefreshToken)
			}
		}
	}
	for _, kind := range models.DemoKinds {
		for _, id := range objs[kind] {
			if err := del[kind](ctx, a, id); err != nil && !models.IsNotFound(err) {
				return err
			}
		}
	}
	for _, r := range refresh {
		if err := store.RevokeSandboxRefresh(ctx, a.WorkspaceID, r); err != nil && !models.IsNotFound(err) {
			return err
		}
	}
	// The warehouse belongs to the first workspace's demo, the only one seeded.
	if a.WorkspaceID == models.DefaultWorkspaceID {
		err := os.Remove(filepath.Join(sqlite.Dir(dataDir), WarehouseFile))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("demo: remove the warehouse: %w", err)
		}
	}
	return store.ForgetDemo(ctx, a.WorkspaceID)
}
