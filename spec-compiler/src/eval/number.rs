//! Numbers compared by value across Int32, Int64, Double and Decimal128, exactly: a Decimal128
//! against a Double is decided on their exact values, never through a lossy conversion. NaN
//! (of either type) is below every other number and equal to NaN, as in MongoDB's order.

use std::cmp::Ordering;

use bson::{Bson, Decimal128};

use super::value::Val;

/// A number of any BSON numeric type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Double(f64),
    Decimal(Dec),
}

/// A decoded Decimal128.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Dec {
    NaN,
    Infinite {
        negative: bool,
    },
    /// `(-1)^negative × coefficient × 10^exponent`.
    Finite {
        negative: bool,
        coefficient: u128,
        exponent: i32,
    },
}

impl Num {
    pub(crate) fn of(value: &Bson) -> Option<Num> {
        Num::of_val(Val::of(value))
    }

    /// The number a value holds, if it is one.
    pub(crate) fn of_val(value: Val<'_>) -> Option<Num> {
        Some(match value {
            Val::Int32(i) => Num::Int(i64::from(i)),
            Val::Int64(i) => Num::Int(i),
            Val::Double(d) => Num::Double(d),
            Val::Decimal(d) => Num::Decimal(decode(&d)),
            _ => return None,
        })
    }

    pub(crate) fn is_nan(self) -> bool {
        match self {
            Num::Int(_) => false,
            Num::Double(d) => d.is_nan(),
            Num::Decimal(d) => d == Dec::NaN,
        }
    }

    /// Whether the value is zero (of any type and sign).
    pub(crate) fn is_zero(self) -> bool {
        matches!(self.parts(), Parts::Zero)
    }

    fn parts(self) -> Parts {
        match self {
            Num::Int(0) => Parts::Zero,
            Num::Int(i) => {
                Parts::Finite { negative: i < 0, m: Magnitude { mantissa: i.unsigned_abs().into(), pow2: 0, pow10: 0 } }
            }
            Num::Double(d) if d.is_nan() => Parts::NaN,
            Num::Double(d) if d.is_infinite() => Parts::Infinite { negative: d < 0.0 },
            Num::Double(0.0) => Parts::Zero,
            Num::Double(d) => {
                let bits = d.to_bits();
                let biased = ((bits >> 52) & 0x7FF) as i32;
                let fraction = bits & ((1 << 52) - 1);
                let (mantissa, pow2) =
                    if biased == 0 { (fraction, -1074) } else { (fraction | (1 << 52), biased - 1075) };
                Parts::Finite { negative: d < 0.0, m: Magnitude { mantissa: mantissa.into(), pow2, pow10: 0 } }
            }
            Num::Decimal(Dec::NaN) => Parts::NaN,
            Num::Decimal(Dec::Infinite { negative }) => Parts::Infinite { negative },
            Num::Decimal(Dec::Finite { coefficient: 0, .. }) => Parts::Zero,
            Num::Decimal(Dec::Finite { negative, coefficient, exponent }) => {
                Parts::Finite { negative, m: Magnitude { mantissa: coefficient, pow2: 0, pow10: exponent } }
            }
        }
    }
}

/// Decodes the IEEE 754-2008 binary integer decimal encoding of a Decimal128.
pub(crate) fn decode(value: &Decimal128) -> Dec {
    let bits = u128::from_le_bytes(value.bytes());
    let negative = bits >> 127 == 1;
    let (exponent, coefficient) = if (bits >> 125) & 0b11 == 0b11 {
        match (bits >> 122) & 0b1_1111 {
            0b1_1110 => return Dec::Infinite { negative },
            0b1_1111 => return Dec::NaN,
            // The "11" form holds a coefficient of at least 2^113 > 10^34 - 1: non-canonical, zero.
            _ => ((bits >> 111) & 0x3FFF, 0),
        }
    } else {
        let coefficient = bits & ((1 << 113) - 1);
        ((bits >> 113) & 0x3FFF, if coefficient >= 10u128.pow(34) { 0 } else { coefficient })
    };
    Dec::Finite { negative, coefficient, exponent: exponent as i32 - 6176 }
}

enum Parts {
    NaN,
    Zero,
    Infinite { negative: bool },
    Finite { negative: bool, m: Magnitude },
}

/// `mantissa × 2^pow2 × 10^pow10`, mantissa > 0.
#[derive(Clone, Copy)]
struct Magnitude {
    mantissa: u128,
    pow2: i32,
    pow10: i32,
}

impl Magnitude {
    /// log2 of the value, within about one unit.
    fn log2(self) -> f64 {
        f64::from(128 - self.mantissa.leading_zeros())
            + f64::from(self.pow2)
            + f64::from(self.pow10) * std::f64::consts::LOG2_10
    }

    fn cmp(self, other: Magnitude) -> Ordering {
        if self.pow2 == other.pow2 && self.pow10 == other.pow10 {
            return self.mantissa.cmp(&other.mantissa);
        }
        let (a, b) = (self.log2(), other.log2());
        if a > b + 4.0 {
            return Ordering::Greater;
        }
        if b > a + 4.0 {
            return Ordering::Less;
        }
        // Close: scale both to integers and compare exactly.
        let (min2, min10) = (self.pow2.min(other.pow2), self.pow10.min(other.pow10));
        let exact = |m: Magnitude| {
            let mut n = Big::from(m.mantissa);
            n.mul_pow10((m.pow10 - min10) as u32);
            n.shl((m.pow2 - min2) as u32);
            n
        };
        exact(self).cmp(&exact(other))
    }
}

/// Compares two numbers by value: NaN below everything and equal to NaN, -0 equal to 0.
pub(crate) fn compare(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => return x.cmp(&y),
        (Num::Double(x), Num::Double(y)) if !x.is_nan() && !y.is_nan() => {
            return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
        }
        _ => {}
    }
    let rank = |p: &Parts| match p {
        Parts::NaN => 0,
        Parts::Infinite { negative: true } => 1,
        Parts::Finite { negative: true, .. } => 2,
        Parts::Zero => 3,
        Parts::Finite { negative: false, .. } => 4,
        Parts::Infinite { negative: false } => 5,
    };
    let (pa, pb) = (a.parts(), b.parts());
    match (pa, pb) {
        (Parts::Finite { negative, m: x }, Parts::Finite { negative: same, m: y }) if negative == same => {
            if negative {
                y.cmp(x)
            } else {
                x.cmp(y)
            }
        }
        (pa, pb) => rank(&pa).cmp(&rank(&pb)),
    }
}

/// A non-negative integer of any size, for the exact comparisons (little-endian 32-bit limbs).
#[derive(PartialEq, Eq)]
struct Big(Vec<u32>);

impl From<u128> for Big {
    fn from(mut value: u128) -> Self {
        let mut limbs = Vec::new();
        while value > 0 {
            limbs.push(value as u32);
            value >>= 32;
        }
        Big(limbs)
    }
}

impl Big {
    fn mul_small(&mut self, factor: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut exponent: u32) {
        while exponent >= 9 {
            self.mul_small(1_000_000_000);
            exponent -= 9;
        }
        self.mul_small(10u32.pow(exponent));
    }

    fn shl(&mut self, bits: u32) {
        let (words, bits) = ((bits / 32) as usize, bits % 32);
        if bits > 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let next = *limb >> (32 - bits);
                *limb = (*limb << bits) | carry;
                carry = next;
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, words));
    }

    fn cmp(&self, other: &Big) -> Ordering {
        let trim = |v: &[u32]| v.len() - v.iter().rev().take_while(|&&l| l == 0).count();
        let (la, lb) = (trim(&self.0), trim(&other.0));
        la.cmp(&lb).then_with(|| self.0[..la].iter().rev().cmp(other.0[..lb].iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(text: &str) -> Num {
        Num::Decimal(decode(&Decimal128::from_str(text).unwrap()))
    }

    #[test]
    fn decimal128_decodes_coefficient_and_exponent() {
        let parts = |text: &str| decode(&Decimal128::from_str(text).unwrap());
        assert_eq!(parts("9.99"), Dec::Finite { negative: false, coefficient: 999, exponent: -2 });
        assert_eq!(parts("-100"), Dec::Finite { negative: true, coefficient: 100, exponent: 0 });
        assert_eq!(parts("1E+3"), Dec::Finite { negative: false, coefficient: 1, exponent: 3 });
        assert_eq!(parts("NaN"), Dec::NaN);
        assert_eq!(parts("-Infinity"), Dec::Infinite { negative: true });
    }

    #[test]
    fn equal_values_of_every_type_are_equal() {
        let hundred = [Num::Int(100), Num::Double(100.0), dec("100"), dec("100.00"), dec("1E+2")];
        for a in hundred {
            for b in hundred {
                assert_eq!(compare(a, b), Ordering::Equal, "{a:?} {b:?}");
            }
        }
        assert_eq!(compare(Num::Double(-0.0), dec("0")), Ordering::Equal);
        assert_eq!(compare(dec("-0"), Num::Int(0)), Ordering::Equal);
    }

    #[test]
    fn decimal_against_double_is_exact() {
        // The double nearest 0.1 is 0.1000000000000000055511151231257827…: above the decimal 0.1.
        assert_eq!(compare(dec("0.1"), Num::Double(0.1)), Ordering::Less);
        assert_eq!(compare(dec("0.1000000000000000055511151231257828"), Num::Double(0.1)), Ordering::Greater);
        assert_eq!(compare(dec("0.1000000000000000055511151231257827"), Num::Double(0.1)), Ordering::Less);
        // 9.99 as a double is 9.9900000000000002131628…
        assert_eq!(compare(dec("9.99"), Num::Double(9.99)), Ordering::Less);
        assert_eq!(compare(Num::Double(9.5), dec("9.5")), Ordering::Equal);
    }

    #[test]
    fn int64_against_double_is_exact() {
        // 2^53 + 1 has no double; the double 2^53 is below it.
        assert_eq!(compare(Num::Int((1 << 53) + 1), Num::Double(9_007_199_254_740_992.0)), Ordering::Greater);
        assert_eq!(compare(Num::Int(i64::MAX), Num::Double(9_223_372_036_854_775_808.0)), Ordering::Less);
        assert_eq!(compare(Num::Int(i64::MIN), Num::Double(-9_223_372_036_854_775_808.0)), Ordering::Equal);
    }

    #[test]
    fn nan_is_lowest_and_equal_to_nan() {
        assert_eq!(compare(Num::Double(f64::NAN), dec("NaN")), Ordering::Equal);
        assert_eq!(compare(Num::Double(f64::NAN), Num::Double(f64::NEG_INFINITY)), Ordering::Less);
        assert_eq!(compare(dec("-Infinity"), Num::Double(f64::NAN)), Ordering::Greater);
        assert_eq!(compare(dec("Infinity"), Num::Double(f64::INFINITY)), Ordering::Equal);
        assert_eq!(compare(dec("9.99E+6144"), Num::Double(f64::MAX)), Ordering::Greater);
    }

    #[test]
    fn signs_and_tiny_magnitudes() {
        assert_eq!(compare(Num::Int(-1), dec("-0.5")), Ordering::Less);
        assert_eq!(compare(Num::Double(5e-324), dec("0")), Ordering::Greater);
        assert_eq!(compare(Num::Double(5e-324), dec("5E-324")), Ordering::Less); // 4.94065…e-324
        assert_eq!(compare(dec("1E-6176"), Num::Double(0.0)), Ordering::Greater);
        assert_eq!(compare(dec("-1E-400"), Num::Double(-5e-324)), Ordering::Greater);
    }
}
