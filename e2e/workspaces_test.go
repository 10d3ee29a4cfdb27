package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The organization's owner adds a workspace on Settings → Organization and renames the
// organization (its audit trail shows both), then moves to the new workspace
// with the frame's switcher, which then shows where they are working and as what, and
// invites someone there by e-mail.
func TestOwnerAddsAndSwitchesWorkspaces(t *testing.T) {
	base := startSluice(t)
	ctx := newBrowser(t)
	shots := newScreenshots(t)

	run(t, ctx, "create the first admin", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "no switcher with one workspace",
		chromedp.WaitVisible(chromedp.CSS(`div[data-testid=workspace-name]`)),
	)
	run(t, ctx, "add a workspace",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-workspaces]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=add-workspace-form] #f-name`), "Globex"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid=workspace-row]').length === 2`),
		shots.take("workspaces-page"),
	)
	run(t, ctx, "rename the organization",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#f-org-name').value = ''`),
		chromedp.SendKeys(chromedp.CSS(`#f-org-name`), "Acme Group"),
		// The form posts and another document follows: click after this script returns.
		chromedp.Evaluate[chromedp.Void](`setTimeout(() => document.querySelector('[data-testid=rename-organization]').click(), 0)`),
	)
	run(t, ctx, "see it renamed, in the audit trail",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=organization-audit-row][data-action="organization.rename"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('.alert-success').textContent.includes('Acme Group')`),
		shots.take("organization-page"),
	)
	run(t, ctx, "switch to it",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=workspace-switcher] select`)),
		// Choose Globex as a person would; the change event posts the form, and the page
		// that follows is another document, so the event fires after this script returns.
		chromedp.Evaluate[chromedp.Void](`setTimeout(() => {
			const s = document.querySelector('[data-testid=workspace-switcher] select');
			s.value = [...s.options].find(o => o.text.startsWith('Globex')).value;
			s.dispatchEvent(new Event('change', {bubbles: true}));
		}, 0)`),
	)
	run(t, ctx, "land in it",
		chromedp.WaitVisible(chromedp.CSS(`.alert-info:not(.demo-banner)`)),
		chromedp.Poll[chromedp.Void](`location.pathname === '/activations' && !!document.querySelector('.alert-info:not(.demo-banner)') &&
			document.querySelector('[data-testid=workspace-switcher] option:checked').text.startsWith('Globex')`),
		shots.take("workspace-switcher"),
	)
	flash := read(t, ctx, "read the flash", chromedp.Text(chromedp.CSS(`.alert-info:not(.demo-banner)`)))
	if !strings.Contains(flash, "Globex") {
		t.Errorf("flash after switching: %q", flash)
	}
	run(t, ctx, "invite someone to Globex",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-users]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-user]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-invite-email`), "grace@globex.example"),
		chromedp.SetValue(chromedp.CSS(`#f-invite-role`), "editor"),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-user]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=invitation-row]`)),
		shots.take("users-invitations"),
	)
}
