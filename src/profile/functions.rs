//! Template expressions beyond a plain `{{var}}` (DESIGN §10): `{{env.NAME | default("x")}}` and
//! the functions servers ask clients to compute, evaluated by minijinja's expression engine.
//!
//! | expression | value |
//! |---|---|
//! | `env.NAME` | the environment variable (unset: undefined, an error at load unless defaulted) |
//! | `x \| default` / `x \| default("text")` | `x`, or `""` / `text` when `x` is undefined |
//! | `a ~ b` | concatenation |
//! | `hmac_sha256_b64(key, part, ...)` | base64 of HMAC-SHA256 over the concatenated parts with `key` (Cognito's `SECRET_HASH`: `hmac_sha256_b64(env.SECRET, user, env.CLIENT_ID)`) |
//! | `base64(text)` | standard base64 (with padding) |
//! | `sha256(text)` | SHA-256, lowercase hex |
//! | `now()` | Unix time in whole seconds |
//! | `uuid()` | a random (v4) UUID |
//!
//! Expressions are compiled once, when a profile loads, and evaluated once with stand-in values
//! then, so a wrong function name or wrong arguments fail at load time with the file position.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use minijinja::value::{Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind};

/// Every function a template may call, with its argument list (for messages).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("hmac_sha256_b64", "key, part, ..."),
    ("base64", "text"),
    ("sha256", "text"),
    ("now", ""),
    ("uuid", ""),
];

/// A compiled expression; lives as long as the program (the environment is a static).
pub type Compiled = minijinja::Expression<'static, 'static>;

thread_local! {
    /// While set, `env.NAME` is a stand-in for every name (the load-time trial evaluation).
    static TRIAL: RefCell<bool> = const { RefCell::new(false) };
    /// Unset environment variables looked up during the current evaluation.
    static UNSET: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The `env` global: environment variables, read when looked up.
#[derive(Debug)]
struct EnvVars;

impl Object for EnvVars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if TRIAL.with(|t| *t.borrow()) {
            return Some(Value::from("x"));
        }
        match std::env::var(name) {
            Ok(v) => Some(Value::from(v)),
            Err(_) => {
                UNSET.with(|u| u.borrow_mut().push(name.to_string()));
                None
            }
        }
    }
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_filter("default", default);
        env.add_global("env", Value::from_object(EnvVars));
        env.add_function("hmac_sha256_b64", hmac_sha256_b64);
        env.add_function("base64", base64_fn);
        env.add_function("sha256", sha256_fn);
        env.add_function("now", now_fn);
        env.add_function("uuid", uuid_fn);
        env
    })
}

/// `x | default` or `x | default("text")`: `x` unless it is undefined or none.
fn default(value: Value, fallback: Option<Value>) -> Value {
    if value.is_undefined() || value.is_none() {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// The text of argument `i` of `function`, or a clear error.
fn text_arg(function: &str, signature: &str, i: usize, v: &Value) -> Result<String, Error> {
    if v.is_undefined() || v.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "{function}({signature}): argument {} has no value (an unset environment variable or a variable this request does not have?)",
                i + 1
            ),
        ));
    }
    if let Some(s) = v.as_str() {
        return Ok(s.to_string());
    }
    match v.kind() {
        minijinja::value::ValueKind::Number | minijinja::value::ValueKind::Bool => {
            Ok(v.to_string())
        }
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "{function}({signature}): argument {} must be text, got {other}",
                i + 1
            ),
        )),
    }
}

fn arity(function: &str, signature: &str, args: &[Value], want: usize) -> Result<(), Error> {
    if args.len() == want {
        return Ok(());
    }
    let noun = if want == 1 { "argument" } else { "arguments" };
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "{function}({signature}) takes {want} {noun}, got {}",
            args.len()
        ),
    ))
}

fn hmac_sha256_b64(args: Rest<Value>) -> Result<String, Error> {
    const SIG: &str = "key, part, ...";
    if args.len() < 2 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "hmac_sha256_b64({SIG}) takes a key and at least one part to sign, got {} argument(s)",
                args.len()
            ),
        ));
    }
    let key = text_arg("hmac_sha256_b64", SIG, 0, &args[0])?;
    let mut message = String::new();
    for (i, v) in args.iter().enumerate().skip(1) {
        message.push_str(&text_arg("hmac_sha256_b64", SIG, i, v)?);
    }
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

fn base64_fn(args: Rest<Value>) -> Result<String, Error> {
    arity("base64", "text", &args, 1)?;
    let t = text_arg("base64", "text", 0, &args[0])?;
    Ok(base64::engine::general_purpose::STANDARD.encode(t))
}

fn sha256_fn(args: Rest<Value>) -> Result<String, Error> {
    arity("sha256", "text", &args, 1)?;
    let t = text_arg("sha256", "text", 0, &args[0])?;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes());
    Ok(d.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

fn now_fn(args: Rest<Value>) -> Result<Value, Error> {
    arity("now", "", &args, 0)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Value::from(secs))
}

fn uuid_fn(args: Rest<Value>) -> Result<String, Error> {
    arity("uuid", "", &args, 0)?;
    Ok(uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string())
}

/// An expression context of `name → text` pairs.
pub fn context<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let map: std::collections::BTreeMap<Value, Value> = pairs
        .into_iter()
        .map(|(k, v)| (Value::from(k), Value::from(v)))
        .collect();
    Value::from(map)
}

/// Why an expression cannot be used.
fn message(e: &Error) -> String {
    e.detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string())
}

/// Compiles `source` (the text between `{{` and `}}`), checks the names it uses against `vars`
/// (template variables), `env` and the functions, and evaluates it once with stand-in values so
/// that wrong arguments are found now.
pub fn compile(source: &str, vars: &[&str]) -> Result<Arc<Compiled>, String> {
    let expr = environment()
        .compile_expression_owned(source.to_string())
        .map_err(|e| {
            format!(
                "cannot read the expression {{{{{source}}}}}: {}",
                message(&e)
            )
        })?;
    let mut used: Vec<String> = expr.undeclared_variables(false).into_iter().collect();
    used.sort();
    for name in &used {
        let known = name == "env"
            || vars.contains(&name.as_str())
            || FUNCTIONS.iter().any(|(f, _)| f == name);
        if !known {
            let candidates = vars
                .iter()
                .copied()
                .chain(FUNCTIONS.iter().map(|(f, _)| *f))
                .chain(["env"]);
            let hint = crate::config::did_you_mean(name, candidates)
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(format!(
                "unknown name `{name}` in {{{{{source}}}}}{hint} (variables: {}, env.NAME; functions: {})",
                vars.join(", "),
                FUNCTIONS
                    .iter()
                    .map(|(f, a)| format!("{f}({a})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    TRIAL.with(|t| *t.borrow_mut() = true);
    let trial = expr.eval(context(vars.iter().map(|v| (*v, "x"))));
    TRIAL.with(|t| *t.borrow_mut() = false);
    trial.map_err(|e| format!("in {{{{{source}}}}}: {}", message(&e)))?;
    Ok(Arc::new(expr))
}

/// The outcome of evaluating an expression for a request.
pub enum Evaluated {
    /// The text.
    Text(String),
    /// No value (an undefined variable or `none`): renders empty.
    Nothing,
    /// The evaluation failed (e.g. a function got no value); the message names the expression.
    Failed(String),
}

/// Evaluates `expr` with the variables in `ctx`; unset environment variables looked up on the
/// way are appended to `unset`.
pub fn evaluate(expr: &Compiled, ctx: Value, unset: Option<&mut Vec<String>>) -> Evaluated {
    UNSET.with(|u| u.borrow_mut().clear());
    let out = match expr.eval(ctx) {
        Ok(v) if v.is_undefined() || v.is_none() => Evaluated::Nothing,
        Ok(v) => Evaluated::Text(match v.as_str() {
            Some(s) => s.to_string(),
            None => v.to_string(),
        }),
        Err(e) => Evaluated::Failed(message(&e)),
    };
    if let Some(unset) = unset {
        UNSET.with(|u| unset.append(&mut u.borrow_mut()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Result<String, String> {
        let e = compile(src, &["user", "password"])?;
        let ctx = context([("user", "alice")]);
        match evaluate(&e, ctx, None) {
            Evaluated::Text(t) => Ok(t),
            Evaluated::Nothing => Ok(String::new()),
            Evaluated::Failed(m) => Err(m),
        }
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let out = eval(r#"hmac_sha256_b64("Jefe", "what do ya want ", "for nothing?")"#).unwrap();
        let hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap())
            .collect();
        assert_eq!(out, base64::engine::general_purpose::STANDARD.encode(bytes));
    }

    #[test]
    fn base64_sha256_now_uuid() {
        assert_eq!(eval(r#"base64(user ~ ":pw")"#).unwrap(), "YWxpY2U6cHc=");
        assert_eq!(
            eval(r#"sha256("abc")"#).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let now: u64 = eval("now()").unwrap().parse().unwrap();
        assert!(now > 1_700_000_000);
        let (a, b) = (eval("uuid()").unwrap(), eval("uuid()").unwrap());
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn defaults() {
        let unset = "env.AUTHBENCH_TEST_FUNCTIONS_SURELY_UNSET";
        assert_eq!(eval(&format!("{unset} | default")).unwrap(), "");
        assert_eq!(
            eval(&format!("{unset} | default(\"http://h\")")).unwrap(),
            "http://h"
        );
        assert_eq!(eval("user | default(\"x\")").unwrap(), "alice");
        assert_eq!(eval("password | default(\"none\")").unwrap(), "none");
    }

    #[test]
    fn wrong_arguments_fail_at_compile_time() {
        let e = compile("hmac_sha256_b64(user)", &["user"]).err().unwrap();
        assert!(e.contains("hmac_sha256_b64(key, part, ...)"), "{e}");
        assert!(e.contains("got 1"), "{e}");
        let e = compile("base64()", &["user"]).err().unwrap();
        assert!(e.contains("base64(text) takes 1 argument, got 0"), "{e}");
        let e = compile("now(user)", &["user"]).err().unwrap();
        assert!(e.contains("now() takes 0 arguments, got 1"), "{e}");
        let e = compile("sha265(user)", &["user"]).err().unwrap();
        assert!(e.contains("did you mean `sha256`"), "{e}");
        let e = compile("base64([1])", &["user"]).err().unwrap();
        assert!(e.contains("must be text"), "{e}");
        assert!(compile("user ~", &["user"]).is_err());
    }

    #[test]
    fn unset_environment_is_recorded() {
        let e = compile(
            "hmac_sha256_b64(env.AUTHBENCH_TEST_FUNCTIONS_UNSET_KEY, user)",
            &["user"],
        )
        .unwrap();
        let mut unset = Vec::new();
        let ctx = context([("user", "u")]);
        let out = evaluate(&e, ctx, Some(&mut unset));
        assert!(matches!(out, Evaluated::Failed(m) if m.contains("argument 1 has no value")));
        assert_eq!(unset, ["AUTHBENCH_TEST_FUNCTIONS_UNSET_KEY"]);
    }
}
