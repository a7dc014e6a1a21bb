//! `EdgeService.Search`: customers, contacts, leads and opportunities in one answer, for the
//! console's search box. The customer service's full-text search (which also finds a customer
//! by its contacts), `ListLeads` and `ListOpportunities` with a `query` are asked in parallel
//! with the caller's own token, so each service applies its own checks (a rep who sees only
//! their own customers finds only those); a part that fails is named in `missing`. The answers
//! are ranked here by how well each one's name meets the query.

use crm_proto::crm::customer::v1 as customer;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::edge::v1::{SearchRequest, SearchResponse, SearchResult, SearchResultKind};
use crm_proto::crm::sales::v1 as sales;
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use crm_proto::crm::sales::v1::opportunity_service_client::OpportunityServiceClient;
use tonic::{Request, Status};

use std::sync::Arc;

use crate::calls::{channel, forwarded, why};
use crate::gateway::Upstream;

/// The longest query, in characters (as the contexts take).
const MAX_QUERY: usize = 200;
/// Results when the request asks for none.
const DEFAULT_SIZE: i32 = 10;
/// The most results of one call.
const MAX_SIZE: i32 = 50;
/// How many each service is asked for, whatever the page size: the candidates ranked here (a
/// customer's own order is its full-text rank; leads and opportunities come oldest first, so
/// past this many matches a better-named one may be left out: the query needs another word).
const CANDIDATES: i32 = 50;

/// The search behind `EdgeService.Search`.
pub(crate) async fn search(
    customers: &Option<Arc<Upstream>>,
    sales: &Option<Arc<Upstream>>,
    request: Request<SearchRequest>,
) -> Result<SearchResponse, Status> {
    let asked = request.get_ref();
    let query = asked.query.split_whitespace().collect::<Vec<_>>().join(" ");
    if query.is_empty() {
        return Err(crm_core::Error::invalid_field("query", "say what to find").into());
    }
    if query.chars().count() > MAX_QUERY {
        return Err(crm_core::Error::invalid_field(
            "query",
            format!("at most {MAX_QUERY} characters"),
        )
        .into());
    }
    // As every list's (AIP-158): 0 the default, more than the most clamped, below 0 refused.
    let size = match asked.page_size {
        0 => DEFAULT_SIZE,
        n if n < 0 => {
            return Err(crm_core::Error::invalid_field(
                "page_size",
                format!("must not be negative; 0 means the default ({DEFAULT_SIZE})"),
            )
            .into());
        }
        n => n.min(MAX_SIZE),
    };
    let customer_calls = channel(customers, "customer");
    let sales_calls = channel(sales, "sales");
    let (customers, leads, opportunities) = tokio::join!(
        async {
            let mut client = CustomerServiceClient::new(customer_calls.clone()?);
            let call = forwarded(
                &request,
                customer::SearchCustomersRequest {
                    query: query.clone(),
                    page_size: CANDIDATES,
                    ..Default::default()
                },
            );
            client.search_customers(call).await
        },
        async {
            let mut client = LeadServiceClient::new(sales_calls.clone()?);
            let call = forwarded(
                &request,
                sales::ListLeadsRequest {
                    query: query.clone(),
                    page_size: CANDIDATES,
                    ..Default::default()
                },
            );
            client.list_leads(call).await
        },
        async {
            let mut client = OpportunityServiceClient::new(sales_calls.clone()?);
            let call = forwarded(
                &request,
                sales::ListOpportunitiesRequest {
                    query: query.clone(),
                    page_size: CANDIDATES,
                    ..Default::default()
                },
            );
            client.list_opportunities(call).await
        },
    );
    let needle = query.to_lowercase();
    let mut found: Vec<(Rank, SearchResult)> = Vec::new();
    let mut missing = Vec::new();
    match customers {
        Ok(answer) => {
            for c in answer.into_inner().customers {
                for contact in &c.contacts {
                    if let Some(hit) = contact_result(contact, &c, &needle) {
                        found.push(hit);
                    }
                }
                found.push(customer_result(c, &needle));
            }
        }
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status),
        Err(status) => {
            missing.push(why("customers", "customer", &status));
            missing.push(why("contacts", "customer", &status));
        }
    }
    match leads {
        Ok(answer) => found.extend(
            answer
                .into_inner()
                .leads
                .into_iter()
                .map(|l| lead_result(l, &needle)),
        ),
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status),
        Err(status) => missing.push(why("leads", "sales", &status)),
    }
    match opportunities {
        Ok(answer) => found.extend(
            answer
                .into_inner()
                .opportunities
                .into_iter()
                .map(|o| opportunity_result(o, &needle)),
        ),
        Err(status) if status.code() == tonic::Code::Unauthenticated => return Err(status),
        Err(status) => missing.push(why("opportunities", "sales", &status)),
    }
    // A stable sort keeps each service's own order (the customers' best first) among equals.
    found.sort_by_key(|(rank, hit)| (*rank, hit.kind));
    Ok(SearchResponse {
        results: found
            .into_iter()
            .take(size as usize)
            .map(|(_, hit)| hit)
            .collect(),
        missing,
    })
}

/// How well a name meets the query: lower is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// The name is the query.
    Exact,
    /// The name starts with it.
    Starts,
    /// A word of the name starts with it.
    WordStarts,
    /// It is found elsewhere (inside a word, in an email, a contact, the notes…).
    Elsewhere,
}

/// How `title` meets `needle` (lower-cased).
fn rank(title: &str, needle: &str) -> Rank {
    let title = title.to_lowercase();
    if title == needle {
        Rank::Exact
    } else if title.starts_with(needle) {
        Rank::Starts
    } else if title
        .match_indices(needle)
        .any(|(at, _)| title[..at].ends_with(|c: char| !c.is_alphanumeric()))
    {
        Rank::WordStarts
    } else {
        Rank::Elsewhere
    }
}

fn result(
    kind: SearchResultKind,
    id: String,
    title: String,
    detail: String,
    customer_id: String,
    needle: &str,
) -> (Rank, SearchResult) {
    (
        rank(&title, needle),
        SearchResult {
            kind: kind as i32,
            id,
            title,
            detail,
            customer_id,
        },
    )
}

fn customer_result(c: customer::Customer, needle: &str) -> (Rank, SearchResult) {
    let email = c.email.clone();
    result(
        SearchResultKind::Customer,
        c.id,
        c.display_name,
        email,
        String::new(),
        needle,
    )
}

/// A contact of `of` whose name or an email holds the query (a customer found through its
/// contacts lists the one that matched).
fn contact_result(
    contact: &customer::Contact,
    of: &customer::Customer,
    needle: &str,
) -> Option<(Rank, SearchResult)> {
    let name = [contact.given_name.as_str(), &contact.family_name]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let holds = name.to_lowercase().contains(needle)
        || contact
            .emails
            .iter()
            .any(|e| e.address.to_lowercase().contains(needle));
    holds.then(|| {
        result(
            SearchResultKind::Contact,
            contact.id.clone(),
            name,
            of.display_name.clone(),
            of.id.clone(),
            needle,
        )
    })
}

fn lead_result(l: sales::Lead, needle: &str) -> (Rank, SearchResult) {
    let detail = if l.company_name.is_empty() {
        l.email
    } else {
        l.company_name
    };
    result(
        SearchResultKind::Lead,
        l.id,
        l.contact_name,
        detail,
        String::new(),
        needle,
    )
}

fn opportunity_result(o: sales::Opportunity, needle: &str) -> (Rank, SearchResult) {
    let detail = o
        .amount
        .as_ref()
        .map(|m| crm_core::text::money(&m.currency_code, m.units, m.nanos))
        .unwrap_or_default();
    result(
        SearchResultKind::Opportunity,
        o.id,
        o.name,
        detail,
        o.customer_id,
        needle,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_is_the_query_comes_before_one_that_starts_with_it_and_so_on() {
        assert_eq!(rank("Hotel Seri", "hotel seri"), Rank::Exact);
        assert_eq!(rank("Hotel Seri Malaysia", "hotel seri"), Rank::Starts);
        assert_eq!(rank("Grand Hotel Seri", "hotel"), Rank::WordStarts);
        assert_eq!(rank("Butik (Seri) Batik", "seri"), Rank::WordStarts);
        assert_eq!(rank("Kedai Tan", "hotel"), Rank::Elsewhere);
        assert_eq!(rank("Pasarseri", "seri"), Rank::Elsewhere);
        let mut ranks = [Rank::Elsewhere, Rank::Exact, Rank::WordStarts, Rank::Starts];
        ranks.sort();
        assert_eq!(
            ranks,
            [Rank::Exact, Rank::Starts, Rank::WordStarts, Rank::Elsewhere]
        );
    }
}
