//! SQLite's placeholders (`?N`, `?`) as PostgreSQL's (`$N`), so each statement is written once.
//! Quoted text ('…', "…") and comments are copied as they are.

/// `sql` with `?N` → `$N` and bare `?` → `$k` (k counting from 1). A statement that mixes the
/// two forms is refused: SQLite numbers a bare `?` after the largest `?N` seen, which would be
/// easy to get wrong here.
pub(super) fn translate(sql: &str) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let (mut numbered, mut bare) = (false, 0u32);
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    // A doubled quote closes and reopens: copying both keeps it right.
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    bare += 1;
                    out.push('$');
                    out.push_str(&bare.to_string());
                } else {
                    numbered = true;
                    out.push('$');
                    out.push_str(&digits);
                }
            }
            _ => out.push(c),
        }
    }
    if numbered && bare > 0 {
        return Err(format!(
            "a statement mixes numbered (?N) and bare (?) placeholders: {sql}"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn placeholders_become_dollars_outside_quotes_and_comments() {
        assert_eq!(
            translate("SELECT a FROM t WHERE x = ?1 AND y = ?12 OR z = ?1").unwrap(),
            "SELECT a FROM t WHERE x = $1 AND y = $12 OR z = $1"
        );
        assert_eq!(
            translate("WHERE a >= ? AND b < ? LIMIT ?").unwrap(),
            "WHERE a >= $1 AND b < $2 LIMIT $3"
        );
        assert_eq!(
            translate("SELECT '?1 it''s ?', \"we?ird\" -- is ?2\nFROM t WHERE a = ?1").unwrap(),
            "SELECT '?1 it''s ?', \"we?ird\" -- is ?2\nFROM t WHERE a = $1"
        );
        assert_eq!(
            translate("target LIKE ? ESCAPE '\\' OR details LIKE ? ESCAPE '\\'").unwrap(),
            "target LIKE $1 ESCAPE '\\' OR details LIKE $2 ESCAPE '\\'"
        );
        assert!(translate("a = ?1 AND b = ?").is_err());
    }
}
