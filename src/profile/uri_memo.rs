//! Rendered request URLs, parsed once per thread: a load test renders the same few URLs (the
//! token endpoint, the resource) millions of times, and parsing one by the URL standard (with
//! the host's IDNA processing) and again as an `http::Uri` was about a third of the generator's
//! cost of an API call (callgrind, issue 16). The result is exactly what [`parse`] computes on a
//! miss; only the last [`SLOTS`] distinct URLs of each thread are kept (a URL with a per-user
//! path just misses).

use std::cell::RefCell;

/// Distinct URLs remembered per thread.
const SLOTS: usize = 8;

struct Memo {
    slots: [Option<(Box<str>, http::Uri)>; SLOTS],
    next: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = const {
        RefCell::new(Memo { slots: [const { None }; SLOTS], next: 0 })
    };
}

/// `url` parsed and normalised by the URL standard, as an `http::Uri`; the parser's message when
/// it is not a valid URL.
pub(crate) fn parse(url: &str) -> Result<http::Uri, String> {
    let hit = MEMO.with_borrow(|m| {
        m.slots
            .iter()
            .flatten()
            .find(|(k, _)| &**k == url)
            .map(|(_, u)| u.clone())
    });
    if let Some(uri) = hit {
        return Ok(uri);
    }
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let uri = http::Uri::try_from(parsed.as_str()).map_err(|e| e.to_string())?;
    MEMO.with_borrow_mut(|m| {
        let i = m.next;
        m.slots[i] = Some((url.into(), uri.clone()));
        m.next = (i + 1) % SLOTS;
    });
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_url_parses_as_before_and_bad_ones_still_fail() {
        for _ in 0..2 {
            // Normalised like the URL standard does: lower-case host, default port dropped.
            let u = parse("HTTP://Example.COM:80/a/./b?x=1").unwrap();
            assert_eq!(u.to_string(), "http://example.com/a/b?x=1");
        }
        for i in 0..(SLOTS * 2) {
            let s = format!("http://127.0.0.1:8080/user/{i}");
            assert_eq!(parse(&s).unwrap().to_string(), s);
        }
        assert!(parse("http://exa mple.com/").is_err());
        assert!(parse("not a url").is_err());
    }
}
