//! Paging: what a caller asks for ([`PageRequest`]: skip, limit) and what a typed read gives
//! back ([`Page`]: the rows and the total they are a page of, as Marten's `IPagedList`).

/// A page of a query: sorted results `skip`ped, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Results to skip.
    pub skip: u64,
    /// Results at most.
    pub limit: i64,
}

impl PageRequest {
    /// The first `limit` results.
    pub fn first(limit: i64) -> Self {
        PageRequest { skip: 0, limit }
    }
}

/// One page of a query's results, with the number of results of the whole query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The rows of this page, in the query's order.
    pub rows: Vec<T>,
    /// How many results the query has in all (every page).
    pub total: u64,
    /// Results skipped before this page.
    pub skip: u64,
    /// The page size asked for (`None`: no limit).
    pub limit: Option<u64>,
}

impl<T> Page<T> {
    /// Whether a page follows this one.
    pub fn has_more(&self) -> bool {
        self.skip + (self.rows.len() as u64) < self.total
    }
}
