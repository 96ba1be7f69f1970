//! What a delete refused by a foreign key tells the caller: which rows still use the one
//! being deleted, by name, and what to do about them. "the strategy is still in use"
//! leaves an admin to hunt for the user; `strategy "partners" is used by product
//! "orders-api"` does not. Both backends run the same lookups (after the refused delete,
//! outside its transaction) and word the answer here.

use dcr_common::text::echo;

/// How many names of each referring kind a message lists before "and N more".
pub(super) const NAMES_SHOWN: i64 = 3;

/// One kind of row that refers to a config row: how to list their names.
#[derive(Debug, Clone, Copy)]
pub(super) struct Referrer {
    /// The referring kind, singular and plural, as the message names it.
    pub singular: &'static str,
    pub plural: &'static str,
    /// The name column and the FROM clause up to `= <the id>`.
    pub name: &'static str,
    pub from_where: &'static str,
}

const STRATEGIES_OF_PROVIDER: Referrer = Referrer {
    singular: "strategy",
    plural: "strategies",
    name: "name",
    from_where: "auth_strategies WHERE provider_id =",
};
const PRODUCTS_OF_STRATEGY: Referrer = Referrer {
    singular: "product",
    plural: "products",
    name: "name",
    from_where: "api_products WHERE strategy_id =",
};
const APPLICATIONS_OF_STRATEGY: Referrer = Referrer {
    singular: "application",
    plural: "applications",
    name: "name",
    from_where: "applications WHERE strategy_id =",
};
const REGISTRATIONS_OF_PRODUCT: Referrer = Referrer {
    singular: "the registration of application",
    plural: "the registrations of applications",
    name: "a.name",
    from_where: "registrations r JOIN applications a ON a.id = r.application_id \
                 WHERE r.product_id =",
};

/// What may still refer to a row of `kind` (provider, strategy, product).
pub(super) fn referrers(kind: &str) -> &'static [Referrer] {
    match kind {
        "provider" => &[STRATEGIES_OF_PROVIDER],
        "strategy" => &[PRODUCTS_OF_STRATEGY, APPLICATIONS_OF_STRATEGY],
        "product" => &[REGISTRATIONS_OF_PRODUCT],
        _ => &[],
    }
}

/// The query for one referrer, the id bound as `$1`: a few names and how many there are
/// in all.
pub(super) fn names_sql(referrer: &Referrer) -> String {
    format!(
        "SELECT {name} AS name, COUNT(*) OVER () AS total FROM {from} $1 \
         ORDER BY {name} LIMIT {NAMES_SHOWN}",
        name = referrer.name,
        from = referrer.from_where,
    )
}

/// The names found for one referrer, and how many rows there are in all.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub referrer: Referrer,
    pub names: Vec<String>,
    pub total: i64,
}

/// `products "a", "b" and 2 more`.
fn listed(found: &Found) -> String {
    let noun = if found.total == 1 {
        found.referrer.singular
    } else {
        found.referrer.plural
    };
    let mut names: Vec<String> = found
        .names
        .iter()
        .map(|n| format!("\"{}\"", echo(n)))
        .collect();
    let more = found.total - i64::try_from(names.len()).unwrap_or(0);
    if more > 0 {
        names.push(format!("{more} more"));
    }
    let names = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    };
    format!("{noun} {names}")
}

/// What the caller can do about one kind of user. The methods are named so any client
/// can act on it (dcrctl shows its own commands for them).
fn advice(referrer: &Referrer) -> &'static str {
    match referrer.plural {
        "strategies" => "delete those strategies first (DeleteStrategy)",
        "products" => {
            "point those products at another strategy (UpdateProduct) or delete them \
             (DeleteProduct)"
        }
        "applications" => "those applications must be deleted first (DeleteApplication)",
        _ => "those registrations must be deleted first (DeleteRegistration)",
    }
}

/// `strategy "partners" is used by product "orders-api": point those products at ...`.
/// `name` is the row's name (or its id when it has none to show).
pub(super) fn message(kind: &str, name: &str, found: &[Found]) -> String {
    let users: Vec<&Found> = found.iter().filter(|f| f.total > 0).collect();
    if users.is_empty() {
        // The users went away between the refused delete and the lookup.
        return format!("{kind} \"{}\" is still in use; try again", echo(name));
    }
    let who: Vec<String> = users.iter().map(|f| listed(f)).collect();
    let what: Vec<&str> = users.iter().map(|f| advice(&f.referrer)).collect();
    format!(
        "{kind} \"{}\" is used by {}: {}",
        echo(name),
        who.join(" and "),
        what.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(referrer: Referrer, names: &[&str], total: i64) -> Found {
        Found {
            referrer,
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            total,
        }
    }

    #[test]
    fn names_each_user_and_what_to_do() {
        assert_eq!(
            message(
                "strategy",
                "partners",
                &[
                    found(PRODUCTS_OF_STRATEGY, &["orders-api"], 1),
                    found(APPLICATIONS_OF_STRATEGY, &[], 0),
                ]
            ),
            "strategy \"partners\" is used by product \"orders-api\": point those products \
             at another strategy (UpdateProduct) or delete them (DeleteProduct)"
        );
        assert_eq!(
            message(
                "provider",
                "okta",
                &[found(STRATEGIES_OF_PROVIDER, &["a", "b", "c"], 5)]
            ),
            "provider \"okta\" is used by strategies \"a\", \"b\", \"c\" and 2 more: delete \
             those strategies first (DeleteStrategy)"
        );
        assert_eq!(
            message(
                "product",
                "orders-api",
                &[found(REGISTRATIONS_OF_PRODUCT, &["shop", "web"], 2)]
            ),
            "product \"orders-api\" is used by the registrations of applications \"shop\" and \
             \"web\": those registrations must be deleted first (DeleteRegistration)"
        );
    }

    #[test]
    fn long_names_are_cut() {
        let long = "n".repeat(10_000);
        let text = message("provider", &long, &[]);
        assert!(text.len() < 200, "{text}");
        assert!(text.contains("more characters"), "{text}");
    }
}
