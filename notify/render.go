package notify

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"strconv"
	texttemplate "text/template"
	"time"
)

//go:embed templates
var templateFS embed.FS

var (
	htmlTmpl = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/alert.html.tmpl"))
	textTmpl = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/alert.txt.tmpl"))
)

// view is what the e-mail templates read: the message with its counts formatted and its
// kind's words and colour.
type view struct {
	Subject, Preheader, Badge, Accent string
	Title, Workspace, What            string
	ObjectType, ObjectName, Category  string
	Reason                            string
	Counts                            []viewCount
	Buttons                           []Button
	OccurredAt                        time.Time
}

type viewCount struct{ Label, Value string }

func newView(m Message) view {
	v := view{Subject: m.Subject(), Badge: m.Kind.label(), Accent: m.Kind.accent(), Title: oneLine(m.Title),
		Workspace: m.Workspace, What: m.What(), ObjectType: m.ObjectType, ObjectName: m.ObjectName,
		Category: m.Category, Reason: m.Reason, Buttons: m.Buttons, OccurredAt: m.OccurredAt.UTC()}
	if v.ObjectType == "" {
		v.ObjectType = "Object"
	}
	v.Preheader = oneLine(m.Reason)
	if v.Preheader == "" {
		v.Preheader = v.Title
	}
	for _, c := range m.Counts {
		v.Counts = append(v.Counts, viewCount{Label: c.Label, Value: thousands(c.Value)})
	}
	return v
}

// RenderEmail renders a message's HTML and plain-text bodies.
func RenderEmail(m Message) (html, text string, err error) {
	v := newView(m)
	var h, t bytes.Buffer
	if err := htmlTmpl.Execute(&h, v); err != nil {
		return "", "", err
	}
	if err := textTmpl.Execute(&t, v); err != nil {
		return "", "", err
	}
	return h.String(), t.String(), nil
}

// thousands writes n with comma separators: 1,204,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}
