//! Reads the DDL sea-orm builds for an entity (`CREATE TABLE`, `CREATE INDEX`) back into data.
//!
//! SeaORM 2.0's entity registry hands out an entity's schema only as built statements, so the
//! generator reads sea-query's PostgreSQL output: a small, regular dialect (quoted identifiers,
//! one column per comma, named constraints), not SQL at large.

use super::snapshot::{Column, Index};

/// A foreign key as the entity declares it, before tenancy rules apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawForeignKey {
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub table: String,
    /// The referenced columns.
    pub ref_columns: Vec<String>,
    /// `ON DELETE` action.
    pub on_delete: Option<String>,
    /// `ON UPDATE` action.
    pub on_update: Option<String>,
}

/// A table as the entity declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawTable {
    /// The table name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Columns declared `UNIQUE` on their own.
    pub unique_columns: Vec<String>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Foreign keys from `belongs_to` relations.
    pub foreign_keys: Vec<RawForeignKey>,
    /// Indexes from `#[sea_orm(indexed)]` / `unique_key`.
    pub indexes: Vec<Index>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Word(String),
    Str(String),
    Punct(char),
}

impl Tok {
    fn is_word(&self, w: &str) -> bool {
        matches!(self, Tok::Word(x) if x.eq_ignore_ascii_case(w))
    }
    fn sql(&self) -> String {
        match self {
            Tok::Ident(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            Tok::Word(s) => s.clone(),
            Tok::Str(s) => format!("'{}'", s.replace('\'', "''")),
            Tok::Punct(c) => c.to_string(),
        }
    }
}

fn tokenize(sql: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quote".into()),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        s.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            out.push(if c == '"' { Tok::Ident(s) } else { Tok::Str(s) });
        } else if c.is_alphanumeric()
            || c == '_'
            || c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Tok::Word("::".into()));
            i += 2;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    Ok(out)
}

struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_word(w)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_word(&mut self, w: &str) -> Result<(), String> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(format!("expected `{w}`, found {:?}", self.peek()))
        }
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_punct(&mut self, c: char) -> Result<(), String> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}`, found {:?}", self.peek()))
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Ident(s)) | Some(Tok::Word(s)) => Ok(s),
            other => Err(format!("expected an identifier, found {other:?}")),
        }
    }
    /// `"schema"."table"` or `"table"`: the table name (the schema is not the entity's concern).
    fn table_name(&mut self) -> Result<String, String> {
        let mut name = self.ident()?;
        while self.eat_punct('.') {
            name = self.ident()?;
        }
        Ok(name)
    }
    fn ident_list(&mut self) -> Result<Vec<String>, String> {
        self.expect_punct('(')?;
        let mut names = vec![self.ident()?];
        while self.eat_punct(',') {
            names.push(self.ident()?);
        }
        self.expect_punct(')')?;
        Ok(names)
    }
    /// Tokens up to (not including) a `,` or `)` at depth 0 or one of `stops`.
    fn until(&mut self, stops: &[&str]) -> Vec<Tok> {
        let mut depth = 0usize;
        let mut taken = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') if depth == 0 => break,
                Tok::Punct(')') => depth -= 1,
                Tok::Punct(',') if depth == 0 => break,
                t if depth == 0 && stops.iter().any(|s| t.is_word(s)) => break,
                _ => {}
            }
            taken.push(self.next().expect("peeked"));
        }
        taken
    }
}

/// Joins tokens back into SQL, spaced the way sea-query and people write it.
fn join(toks: &[Tok]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Tok> = None;
    for t in toks {
        let no_space = match (prev, t) {
            (None, _) => true,
            (_, Tok::Punct(')' | ',' | ']')) => true,
            (Some(Tok::Punct('(' | '[')), _) => true,
            (Some(Tok::Word(_) | Tok::Ident(_)), Tok::Punct('(' | '[')) => true,
            (Some(p), _) if p.is_word("::") => true,
            (_, t) if t.is_word("::") => true,
            _ => false,
        };
        if !no_space {
            out.push(' ');
        }
        out.push_str(&match t {
            Tok::Word(w) => w.to_lowercase(),
            other => other.sql(),
        });
        prev = Some(t);
    }
    out
}

/// Column-level keywords that end a type or a default expression.
const COLUMN_STOPS: &[&str] = &[
    "NOT",
    "NULL",
    "PRIMARY",
    "UNIQUE",
    "DEFAULT",
    "GENERATED",
    "CHECK",
    "COLLATE",
    "REFERENCES",
];

/// Only the table name of a `CREATE TABLE` (for any backend's dialect).
pub fn create_table_name(sql: &str) -> Result<String, String> {
    let mut c = Cursor {
        toks: tokenize(sql)?,
        pos: 0,
    };
    c.expect_word("CREATE")?;
    c.expect_word("TABLE")?;
    if c.eat_word("IF") {
        c.expect_word("NOT")?;
        c.expect_word("EXISTS")?;
    }
    c.table_name()
}

/// Parses sea-query's `CREATE TABLE`.
pub fn parse_create_table(sql: &str) -> Result<RawTable, String> {
    let mut c = Cursor {
        toks: tokenize(sql)?,
        pos: 0,
    };
    c.expect_word("CREATE")?;
    c.expect_word("TABLE")?;
    if c.eat_word("IF") {
        c.expect_word("NOT")?;
        c.expect_word("EXISTS")?;
    }
    let mut table = RawTable {
        name: c.table_name()?,
        ..RawTable::default()
    };
    c.expect_punct('(')?;
    loop {
        let constraint_name = if c.eat_word("CONSTRAINT") {
            Some(c.ident()?)
        } else {
            None
        };
        if c.eat_word("PRIMARY") {
            c.expect_word("KEY")?;
            table.primary_key = c.ident_list()?;
        } else if c.eat_word("UNIQUE") {
            let columns = c.ident_list()?;
            let name = constraint_name.unwrap_or_default();
            table.indexes.push(Index {
                name,
                columns,
                unique: true,
            });
        } else if c.eat_word("FOREIGN") {
            c.expect_word("KEY")?;
            let columns = c.ident_list()?;
            c.expect_word("REFERENCES")?;
            let target = c.table_name()?;
            let ref_columns = c.ident_list()?;
            let mut fk = RawForeignKey {
                columns,
                table: target,
                ref_columns,
                on_delete: None,
                on_update: None,
            };
            while c.eat_word("ON") {
                let delete = if c.eat_word("DELETE") {
                    true
                } else {
                    c.expect_word("UPDATE")?;
                    false
                };
                let action = join(&c.until(&["ON"])).to_uppercase();
                if delete {
                    fk.on_delete = Some(action);
                } else {
                    fk.on_update = Some(action);
                }
            }
            table.foreign_keys.push(fk);
        } else if constraint_name.is_some() {
            return Err(format!("unsupported table constraint at {:?}", c.peek()));
        } else {
            parse_column(&mut c, &mut table)?;
        }
        if c.eat_punct(',') {
            continue;
        }
        c.expect_punct(')')?;
        break;
    }
    if c.peek().is_some() {
        return Err(format!(
            "unexpected {:?} after the table definition",
            c.peek()
        ));
    }
    Ok(table)
}

fn parse_column(c: &mut Cursor, table: &mut RawTable) -> Result<(), String> {
    let name = c.ident()?;
    let ty = c.until(COLUMN_STOPS);
    if ty.is_empty() {
        return Err(format!("column `{name}` has no type"));
    }
    let sql_type = match ty.as_slice() {
        [Tok::Ident(custom)] => custom.clone(),
        _ => join(&ty),
    };
    let mut column = Column {
        name: name.clone(),
        sql_type,
        nullable: true,
        default: None,
        auto_increment: false,
    };
    loop {
        if c.eat_word("NOT") {
            c.expect_word("NULL")?;
            column.nullable = false;
        } else if c.eat_word("NULL") {
            column.nullable = true;
        } else if c.eat_word("PRIMARY") {
            c.expect_word("KEY")?;
            table.primary_key = vec![name.clone()];
            column.nullable = false;
        } else if c.eat_word("UNIQUE") {
            table.unique_columns.push(name.clone());
        } else if c.eat_word("DEFAULT") {
            column.default = Some(join(&c.until(COLUMN_STOPS)));
        } else if c.eat_word("GENERATED") {
            // GENERATED BY DEFAULT AS IDENTITY / GENERATED ALWAYS AS IDENTITY
            if !c.eat_word("ALWAYS") {
                c.expect_word("BY")?;
                c.expect_word("DEFAULT")?;
            }
            c.expect_word("AS")?;
            if !c.eat_word("IDENTITY") {
                return Err(format!("generated column `{name}` is not supported"));
            }
            column.auto_increment = true;
        } else if c
            .peek()
            .is_some_and(|t| t.is_word("CHECK") || t.is_word("COLLATE"))
        {
            return Err(format!(
                "column `{name}`: {:?} is not supported by the generator yet",
                c.peek()
            ));
        } else {
            break;
        }
    }
    table.columns.push(column);
    Ok(())
}

/// Parses sea-query's `CREATE [UNIQUE] INDEX "name" ON "table" ("a", "b")`.
pub fn parse_create_index(sql: &str) -> Result<(String, Index), String> {
    let mut c = Cursor {
        toks: tokenize(sql)?,
        pos: 0,
    };
    c.expect_word("CREATE")?;
    let unique = c.eat_word("UNIQUE");
    c.expect_word("INDEX")?;
    if c.eat_word("IF") {
        c.expect_word("NOT")?;
        c.expect_word("EXISTS")?;
    }
    let name = c.ident()?;
    c.expect_word("ON")?;
    let table = c.table_name()?;
    if c.eat_word("USING") {
        c.ident()?;
    }
    let columns = c.ident_list()?;
    if c.peek().is_some() {
        return Err(format!("unsupported index option {:?}", c.peek()));
    }
    Ok((
        table,
        Index {
            name,
            columns,
            unique,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sea_query_output() {
        let t = parse_create_table(
            r#"CREATE TABLE "posts" ( "id" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL PRIMARY KEY, "title" varchar(200) NOT NULL, "status" varchar DEFAULT 'draft', "price" numeric(10, 2), "author_id" bigint NOT NULL UNIQUE, CONSTRAINT "fk-posts-author_id" FOREIGN KEY ("author_id") REFERENCES "users" ("id") ON DELETE CASCADE ON UPDATE SET NULL )"#,
        )
        .unwrap();
        assert_eq!(t.name, "posts");
        assert_eq!(t.primary_key, ["id"]);
        assert!(t.columns[0].auto_increment && !t.columns[0].nullable);
        assert_eq!(t.columns[1].sql_type, "varchar(200)");
        assert_eq!(t.columns[2].default.as_deref(), Some("'draft'"));
        assert!(t.columns[2].nullable);
        assert_eq!(t.columns[3].sql_type, "numeric(10, 2)");
        assert_eq!(t.unique_columns, ["author_id"]);
        let fk = &t.foreign_keys[0];
        assert_eq!(
            (fk.table.as_str(), fk.on_delete.as_deref()),
            ("users", Some("CASCADE"))
        );
        assert_eq!(fk.on_update.as_deref(), Some("SET NULL"));
        let (table, idx) =
            parse_create_index(r#"CREATE UNIQUE INDEX "idx-x" ON "posts" ("title", "id")"#)
                .unwrap();
        assert_eq!((table.as_str(), idx.unique), ("posts", true));
        assert_eq!(idx.columns, ["title", "id"]);
    }
}
