package activationsview

import "strconv"

// occurrences counts an incident's occurrences in words.
func occurrences(n int) string {
	if n == 1 {
		return "1 occurrence"
	}
	return strconv.Itoa(n) + " occurrences"
}
