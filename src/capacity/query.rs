//! The cluster query language subset users write in `memberOf` constraints
//! (aws-behaviour §8.3): `attribute:<name>`, `ec2InstanceId`, `runningTasksCount` and
//! `agentConnected` subjects; `==`, `!=`, `in [..]`, `!in`, `=~`, `!~` with `*`
//! wildcards; `and`/`&&`, `or`/`||`, `not`/`!`, parentheses.

use super::model::Instance;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Compare { subject: String, op: Op, values: Vec<String> },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Matches,
    NotMatches,
}

/// Why an expression was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid memberOf expression {expr:?}: {reason}")]
pub struct QueryError {
    pub expr: String,
    pub reason: String,
}

impl Expr {
    /// Parses an expression.
    ///
    /// # Errors
    /// [`QueryError`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        if text.len() > 2000 {
            return Err(QueryError {
                expr: text.chars().take(40).collect(),
                reason: "longer than 2000 characters".into(),
            });
        }
        let tokens = tokenize(text);
        let mut p = Parser { tokens: &tokens, pos: 0, text };
        let e = p.or()?;
        if p.pos != tokens.len() {
            return Err(p.error(format!("unexpected {:?}", tokens[p.pos])));
        }
        Ok(e)
    }

    /// Whether `instance` satisfies the expression.
    #[must_use]
    pub fn eval(&self, instance: &Instance) -> bool {
        match self {
            Self::Not(e) => !e.eval(instance),
            Self::And(a, b) => a.eval(instance) && b.eval(instance),
            Self::Or(a, b) => a.eval(instance) || b.eval(instance),
            Self::Compare { subject, op, values } => {
                let actual: Option<String> = if let Some(name) = subject.strip_prefix("attribute:") {
                    instance.attribute(name).map(str::to_owned)
                } else {
                    match subject.as_str() {
                        "ec2InstanceId" => instance.ec2_instance_id.clone(),
                        "runningTasksCount" => Some(instance.running_tasks.to_string()),
                        "agentConnected" => Some(instance.agent_connected.to_string()),
                        _ => None,
                    }
                };
                let Some(actual) = actual else { return matches!(op, Op::Ne | Op::NotIn | Op::NotMatches) };
                match op {
                    Op::Eq | Op::In => values.contains(&actual),
                    Op::Ne | Op::NotIn => values.iter().all(|v| *v != actual),
                    Op::Matches => values.iter().any(|v| wildcard(v, &actual)),
                    Op::NotMatches => !values.iter().any(|v| wildcard(v, &actual)),
                }
            }
        }
    }
}

fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len())
                    .any(|i| text.is_char_boundary(head.len() + i) && wildcard(tail, &text[head.len() + i..]))
        }
    }
}

fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => flush(&mut current, &mut out),
            '(' | ')' | '[' | ']' | ',' => {
                flush(&mut current, &mut out);
                out.push(c.to_string());
            }
            '&' | '|' | '=' | '!'
                if chars.get(i + 1).is_some_and(|n| {
                    matches!((c, n), ('&', '&') | ('|', '|') | ('=', '=') | ('=', '~') | ('!', '=') | ('!', '~'))
                }) =>
            {
                flush(&mut current, &mut out);
                out.push(format!("{c}{}", chars[i + 1]));
                i += 1;
            }
            '!' if current.is_empty() => {
                flush(&mut current, &mut out);
                out.push("!".into());
            }
            _ => current.push(c),
        }
        i += 1;
    }
    flush(&mut current, &mut out);
    out
}

struct Parser<'t> {
    tokens: &'t [String],
    pos: usize,
    text: &'t str,
}

impl<'t> Parser<'t> {
    fn error(&self, reason: String) -> QueryError {
        QueryError { expr: self.text.to_owned(), reason }
    }

    fn peek(&self) -> Option<&'t str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn next(&mut self) -> Option<&'t str> {
        let t = self.tokens.get(self.pos).map(String::as_str);
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek() {
            Some("not" | "!") => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.pos += 1;
                let e = self.or()?;
                if self.next() != Some(")") {
                    return Err(self.error("missing ')'".into()));
                }
                Ok(e)
            }
            Some(_) => self.comparison(),
            None => Err(self.error("expression ends too early".into())),
        }
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let subject = self.next().unwrap_or_default().to_owned();
        let known = subject.starts_with("attribute:")
            || matches!(subject.as_str(), "ec2InstanceId" | "runningTasksCount" | "agentConnected");
        if !known {
            return Err(self.error(format!("unsupported subject {subject:?} (use attribute:<name>, ec2InstanceId, runningTasksCount or agentConnected)")));
        }
        let op = match self.next() {
            Some("==" | "equals") => Op::Eq,
            Some("!=" | "not_equals") => Op::Ne,
            Some("in") => Op::In,
            Some("!in" | "not_in") => Op::NotIn,
            Some("!") if self.peek() == Some("in") => {
                self.pos += 1;
                Op::NotIn
            }
            Some("=~" | "matches") => Op::Matches,
            Some("!~" | "not_matches") => Op::NotMatches,
            other => return Err(self.error(format!("expected an operator after {subject}, found {other:?}"))),
        };
        let values = if matches!(op, Op::In | Op::NotIn) {
            if self.next() != Some("[") {
                return Err(self.error("`in` needs a list: [a, b]".into()));
            }
            let mut values = Vec::new();
            loop {
                match self.next() {
                    Some("]") => break,
                    Some(",") => {}
                    Some(v) => values.push(v.to_owned()),
                    None => return Err(self.error("unterminated list".into())),
                }
            }
            values
        } else {
            match self.next() {
                Some(v) if !matches!(v, "(" | ")" | "[" | "]") => vec![v.to_owned()],
                _ => return Err(self.error(format!("expected a value after the operator for {subject}"))),
            }
        };
        Ok(Expr::Compare { subject, op, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(zone: &str, kind: &str) -> Instance {
        Instance {
            id: "ci".into(),
            ec2_instance_id: Some("i-1".into()),
            status: "ACTIVE".into(),
            agent_connected: true,
            free: Default::default(),
            registered: Default::default(),
            attributes: [
                ("ecs.availability-zone".to_owned(), zone.to_owned()),
                ("ecs.instance-type".to_owned(), kind.to_owned()),
                ("team".to_owned(), "web".to_owned()),
            ]
            .into(),
            running_tasks: 1,
            pending_tasks: 0,
            non_daemon_tasks: 1,
            groups: Default::default(),
            launched_at: None,
            in_asg: true,
            protected_from_scale_in: false,
            hypothetical: false,
        }
    }

    #[test]
    fn documented_examples_evaluate() {
        let i = instance("us-east-1a", "t2.micro");
        for (expr, want) in [
            ("attribute:ecs.instance-type =~ t2.*", true),
            ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", true),
            ("attribute:ecs.availability-zone !in [us-east-1a]", false),
            ("attribute:ecs.instance-type == m5.large or attribute:team == web", true),
            ("not(attribute:team == web)", false),
            ("attribute:team != db && (attribute:ecs.instance-type matches t2.* || runningTasksCount == 9)", true),
            ("ec2InstanceId == i-1", true),
            ("attribute:missing != x", true),
        ] {
            assert_eq!(Expr::parse(expr).unwrap().eval(&i), want, "{expr}");
        }
    }

    #[test]
    fn bad_expressions_say_why() {
        for (expr, want) in [
            ("task:group == db", "unsupported subject"),
            ("attribute:a", "expected an operator"),
            ("attribute:a in b", "needs a list"),
            ("(attribute:a == b", "missing ')'"),
            ("attribute:a == b extra", "unexpected"),
        ] {
            let e = Expr::parse(expr).unwrap_err().to_string();
            assert!(e.contains(want), "{expr}: {e}");
        }
    }
}
