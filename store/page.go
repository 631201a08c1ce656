package store

// Page says which slice of a list to return. Number starts at 1.
type Page struct {
	Number int
	Size   int
}

// DefaultPageSize and MaxPageSize bound every list the service returns.
const (
	DefaultPageSize = 10
	MaxPageSize     = 1000
)

// offset is the number of rows before the page.
func (p Page) offset() int {
	if p.Number < 1 {
		return 0
	}
	return (p.Number - 1) * p.limit()
}

func (p Page) limit() int {
	switch {
	case p.Size <= 0:
		return DefaultPageSize
	case p.Size > MaxPageSize:
		return MaxPageSize
	}
	return p.Size
}

// Total is how many rows a list has in all, beside the page returned.
type Total struct {
	Items int
	Pages int
}

func totalOf(items int, p Page) Total {
	size := p.limit()
	return Total{Items: items, Pages: (items + size - 1) / size}
}
