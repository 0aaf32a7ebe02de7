//! Side-by-side rows for the diff view: two YAML texts aligned line by line.

use similar::{DiffTag, TextDiff};

/// How a row of the side-by-side view differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// The same on both sides.
    Same,
    /// Only on the left (removed by apply).
    Removed,
    /// Only on the right (added by apply).
    Added,
    /// Different on the two sides.
    Changed,
}

/// One row: a line on each side (either may be missing), with 1-based line numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideRow {
    /// The left line's number and text.
    pub left: Option<(usize, String)>,
    /// The right line's number and text.
    pub right: Option<(usize, String)>,
    /// How they differ.
    pub kind: RowKind,
}

/// Aligns two texts line by line.
pub fn side_by_side(left: &str, right: &str) -> Vec<SideRow> {
    let old: Vec<&str> = left.split_inclusive('\n').collect();
    let new: Vec<&str> = right.split_inclusive('\n').collect();
    let line = |lines: &[&str], index: usize| (index + 1, lines[index].trim_end_matches(['\n', '\r']).to_string());
    let diff = TextDiff::from_lines(left, right);
    let mut rows = Vec::new();
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        let kind = match tag {
            DiffTag::Equal => RowKind::Same,
            DiffTag::Delete => RowKind::Removed,
            DiffTag::Insert => RowKind::Added,
            DiffTag::Replace => RowKind::Changed,
        };
        let count = old_range.len().max(new_range.len());
        for offset in 0..count {
            let left = (offset < old_range.len()).then(|| line(&old, old_range.start + offset));
            let right = (offset < new_range.len()).then(|| line(&new, new_range.start + offset));
            let kind = match (&left, &right, kind) {
                (Some(_), None, RowKind::Changed) => RowKind::Removed,
                (None, Some(_), RowKind::Changed) => RowKind::Added,
                _ => kind,
            };
            rows.push(SideRow { left, right, kind });
        }
    }
    rows
}

/// The 1-based numbers of the lines of `text` that also differ from `other` (for highlighting one
/// column of the three-way YAML view).
pub fn changed_lines(text: &str, other: &str) -> Vec<usize> {
    side_by_side(text, other)
        .into_iter()
        .filter(|row| row.kind != RowKind::Same)
        .filter_map(|row| row.left.map(|(number, _)| number))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_give_same_rows() {
        let rows = side_by_side("a: 1\nb: 2\n", "a: 1\nb: 2\n");
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|row| row.kind == RowKind::Same));
    }

    #[test]
    fn a_changed_line_is_paired_with_its_replacement() {
        let rows = side_by_side("replicas: 1\nimage: nginx:1.25\n", "replicas: 3\nimage: nginx:1.25\n");
        assert_eq!(rows[0].kind, RowKind::Changed);
        assert_eq!(rows[0].left, Some((1, "replicas: 1".into())));
        assert_eq!(rows[0].right, Some((1, "replicas: 3".into())));
        assert_eq!(rows[1].kind, RowKind::Same);
    }

    #[test]
    fn uneven_replacements_become_removals_or_additions() {
        let rows = side_by_side("a: 1\n", "a: 2\nb: 3\n");
        assert_eq!(rows.iter().map(|r| r.kind).collect::<Vec<_>>(), vec![RowKind::Changed, RowKind::Added]);
        assert_eq!(rows[1].left, None);
    }

    #[test]
    fn a_new_object_is_all_additions() {
        let rows = side_by_side("", "kind: Pod\n");
        assert_eq!(rows, vec![SideRow { left: None, right: Some((1, "kind: Pod".into())), kind: RowKind::Added }]);
    }

    #[test]
    fn changed_lines_names_the_left_side_lines() {
        assert_eq!(changed_lines("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 9\nc: 3\n"), vec![2]);
    }
}
