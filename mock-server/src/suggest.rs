//! "Did you mean": the closest known name to a mistyped one — the mock's fault operations, fault
//! kinds and flaws, and authbench's unknown keys, values, check ids, presets, template variables
//! and metric names (authbench's `config` re-exports it). Distances come from `strsim` (optimal string
//! alignment: Levenshtein plus adjacent transpositions, so `expcet` is one edit from `expect`).

/// The longest input considered (longer input is not a typo of a short name).
const MAX_INPUT: usize = 64;

/// The closest of `candidates` to `input`, if it is close enough to be a plausible typo: at most a
/// third of its length in edits (1 to 3). Case, `-`, `_` and space differences count as exact
/// matches (`single_flight` → `single-flight`); `input` itself is never suggested.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let input_n = normalize(input);
    let len = input_n.chars().count();
    if len == 0 || len > MAX_INPUT {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == input {
            continue;
        }
        let d = strsim::osa_distance(&input_n, &normalize(c));
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (len / 3).clamp(1, 3);
    (d <= limit).then(|| c.to_string())
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let fields = ["name", "clients", "client", "plan", "expect"];
        assert_eq!(did_you_mean("clinets", fields).as_deref(), Some("clients"));
        assert_eq!(did_you_mean("expcet", fields).as_deref(), Some("expect"));
        assert_eq!(did_you_mean("zzzzzz", fields), None);
        assert_eq!(
            did_you_mean("single_flight", ["naive", "single-flight"]).as_deref(),
            Some("single-flight")
        );
        assert_eq!(did_you_mean("", fields), None);
        assert_eq!(did_you_mean("plan", fields), None, "never itself");
    }

    #[test]
    fn metric_names() {
        let counters = ["requests", "logins", "relogins", "spurious_logouts"];
        assert_eq!(
            did_you_mean("relogin", counters).as_deref(),
            Some("relogins")
        );
        assert_eq!(
            did_you_mean("spurious_logout", counters).as_deref(),
            Some("spurious_logouts")
        );
        assert_eq!(did_you_mean("zzzzzzzz", counters), None);
    }
}
