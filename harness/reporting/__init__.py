"""From records to what people read: summary, text tables, HTML, diffs, gates and their statistics."""
