//! Small serde helpers shared by the configuration model.
//!
//! * [`string_enum!`](crate::config::serde_util) declares keyword enums (`netdrv = "libnl"`) with
//!   accepted aliases and an error message that names the bad value and the valid ones.
//! * [`or_default`] / [`or_true`] let JSON configurations write `null` for "use the default",
//!   as the original's sample JSON file does.
//! * [`value_error`] builds the `= <value> <reason>` messages rendered after a directive name.

use serde::{Deserialize, Deserializer};

/// Builds a value error message in the form rendered as `directive = value reason`.
///
/// [`ConfigError`](super::ConfigError) joins messages starting with `"= "` to the directive
/// with a space, every other message with `": "`.
pub(crate) fn value_error(value: impl std::fmt::Display, reason: impl std::fmt::Display) -> String {
    format!("= {value} {reason}")
}

/// Prefix marking an error raised for element `index` of a list (see [`parse_list`]).
///
/// TOML reports errors inside an array at the array's position; the marker lets the error
/// mapping name (and locate) the element itself.
pub(crate) fn element_error(index: usize, message: impl std::fmt::Display) -> String {
    format!("[{index}]{message}")
}

/// Splits an [`element_error`] marker off a message: `[1]= "x" is bad` → `(1, "= \"x\" is bad")`.
pub(crate) fn split_element_error(message: &str) -> Option<(usize, &str)> {
    let rest = message.strip_prefix('[')?;
    let (index, rest) = rest.split_once(']')?;
    Some((index.parse().ok()?, rest))
}

/// Parses a sequence of strings with `FromStr`, marking errors with the element index.
pub(crate) fn parse_list<'de, A, T>(mut seq: A) -> Result<Vec<T>, A::Error>
where
    A: serde::de::SeqAccess<'de>,
    T: std::str::FromStr<Err = String>,
{
    let mut items = Vec::new();
    while let Some(text) = seq.next_element::<String>()? {
        let item = text
            .parse()
            .map_err(|e| <A::Error as serde::de::Error>::custom(element_error(items.len(), e)))?;
        items.push(item);
    }
    Ok(items)
}

/// Deserializes a list of strings parsed with `FromStr` (`null` is an empty list).
pub(crate) fn deserialize_parsed_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    struct ListVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: std::str::FromStr<Err = String>> serde::de::Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of strings")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            parse_list(seq)
        }
    }

    deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
}

/// Deserializes `null` (JSON) as the type's default value.
pub(crate) fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Deserializes `null` (JSON) as `true`, for flags whose default is on.
pub(crate) fn or_true<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(true))
}

/// Serde default for flags that are on unless configured otherwise.
pub(crate) fn default_true() -> bool {
    true
}

/// Declares a keyword enum: `Display`/`FromStr`, serde as the canonical keyword, aliases accepted
/// on input, and an error message listing the valid keywords.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) $(default $default:ident)? {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => $keyword:literal $(| $alias:literal)*,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        $(
            impl Default for $name {
                fn default() -> Self {
                    Self::$default
                }
            }
        )?

        impl $name {
            /// Every accepted canonical keyword, in declaration order.
            pub const KEYWORDS: &'static [&'static str] = &[$($keyword),+];

            /// The canonical configuration keyword of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $keyword, )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $( $keyword $(| $alias)* => Ok(Self::$variant), )+
                    other => Err($crate::config::serde_util::value_error(
                        format_args!("{other:?}"),
                        format_args!(
                            "is not a valid {} (expected {})",
                            $what,
                            $crate::config::serde_util::one_of(Self::KEYWORDS)
                        ),
                    )),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}
pub(crate) use string_enum;

/// Renders `a`, `a` or `b`, `a`, `b` or `c`.
pub(crate) fn one_of(keywords: &[&str]) -> String {
    let quoted: Vec<String> = keywords.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}
