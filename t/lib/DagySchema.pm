# The OpenAPI document's schemas applied to responses: a small JSON
# Schema subset (type with "null", properties, required,
# additionalProperties, items, enum, const, oneOf, anyOf, allOf, $ref to
# #/..., minimum, maximum, minItems), enough for openapi/dagy.json and
# checked by t/api/openapi.t. Core Perl only. Values must come straight
# from JSON::PP's decoder: numbers are told from strings by their flags.
package DagySchema;
use strict;
use warnings;
use B ();
use JSON::PP ();

sub new {
	my ($class, $doc) = @_;
	my $self = bless { doc => $doc, routes => [] }, $class;
	for my $path (keys %{ $doc->{paths} }) {
		my @segs = grep { length } split m{/}, $path;
		my $kinds = join '', map { /^\{.*\}$/ ? 'P' : 'L' } @segs;
		for my $m (keys %{ $doc->{paths}{$path} }) {
			next unless $m =~ /^(get|put|post|delete|patch|head|options)$/;
			push @{ $self->{routes} }, { method => uc $m, path => $path, segs => \@segs,
				kinds => $kinds, op => $doc->{paths}{$path}{$m} };
		}
	}
	# Where two templates match, a literal segment earlier wins (as the router).
	@{ $self->{routes} } = sort { $a->{kinds} cmp $b->{kinds} } @{ $self->{routes} };
	return $self;
}

# The route of the document that METHOD PATH (no query) falls under, or undef.
sub route {
	my ($self, $method, $path) = @_;
	my @segs = grep { length } split m{/}, $path;
	ROUTE: for my $r (@{ $self->{routes} }) {
		next if $r->{method} ne $method || @{ $r->{segs} } != @segs;
		for my $i (0 .. $#segs) {
			my $t = $r->{segs}[$i];
			next if $t =~ /^\{/;
			next ROUTE if $t ne $segs[$i];
		}
		return $r;
	}
	return undef;
}

sub resolve {
	my ($self, $node) = @_;
	my $seen = 0;
	while (ref $node eq 'HASH' && exists $node->{'$ref'}) {
		my $ref = $node->{'$ref'};
		die "unsupported \$ref $ref" unless $ref =~ m{^#/(.*)};
		$node = $self->{doc};
		for my $p (split m{/}, $1) {
			$p =~ s/~1/\//g;
			$p =~ s/~0/~/g;
			$node = $node->{$p} // die "dangling \$ref $ref";
		}
		die "\$ref loop at $ref" if ++$seen > 20;
	}
	return $node;
}

# The schema of the response of route r with status, or undef.
sub response_schema {
	my ($self, $r, $status) = @_;
	my $responses = $r->{op}{responses} // {};
	my $resp = $responses->{$status} // $responses->{substr($status, 0, 1) . 'XX'};
	return undef unless $resp;
	$resp = $self->resolve($resp);
	my $media = $resp->{content}{'application/json'} or return undef;
	return $media->{schema};
}

sub json_type {
	my ($v) = @_;
	return 'null' unless defined $v;
	return 'boolean' if JSON::PP::is_bool($v);
	return 'object' if ref $v eq 'HASH';
	return 'array' if ref $v eq 'ARRAY';
	my $f = B::svref_2object(\$v)->FLAGS;
	if (!($f & B::SVp_POK) && ($f & (B::SVp_IOK | B::SVp_NOK))) {
		return $v == int($v) ? 'integer' : 'number';
	}
	return 'string';
}

# Errors of value against schema ("" when it conforms); at names the place.
sub check {
	my ($self, $schema, $v, $at) = @_;
	$at //= '$';
	$schema = $self->resolve($schema);
	return '' if !ref $schema || !%$schema;
	if (my $t = $schema->{type}) {
		my @want = ref $t ? @$t : ($t);
		my $have = json_type($v);
		my $ok = grep { $_ eq $have || ($_ eq 'number' && $have eq 'integer') } @want;
		return "$at: expected " . join('|', @want) . ", got $have" unless $ok;
	}
	if (exists $schema->{const}) {
		return "$at: expected const" unless defined $v && !ref $v && $v eq $schema->{const};
	}
	if (my $e = $schema->{enum}) {
		my $ok = grep { (!defined $_ && !defined $v)
			|| (defined $_ && defined $v && !ref $v && $_ eq $v) } @$e;
		return "$at: " . ($v // 'null') . ' is not one of ' . join(', ', map { $_ // 'null' } @$e)
			unless $ok;
	}
	for my $sub (@{ $schema->{allOf} // [] }) {
		my $err = $self->check($sub, $v, $at);
		return $err if $err;
	}
	for my $kw (qw(oneOf anyOf)) {
		next unless $schema->{$kw};
		my @errs = map { $self->check($_, $v, $at) } @{ $schema->{$kw} };
		my $n = grep { $_ eq '' } @errs;
		return "$at: matches none of $kw (" . join('; ', @errs) . ')' if $n == 0;
		return "$at: matches $n of oneOf" if $kw eq 'oneOf' && $n > 1;
	}
	my $type = json_type($v);
	if ($type eq 'integer' || $type eq 'number') {
		return "$at: $v < $schema->{minimum}" if defined $schema->{minimum} && $v < $schema->{minimum};
		return "$at: $v > $schema->{maximum}" if defined $schema->{maximum} && $v > $schema->{maximum};
	}
	if ($type eq 'object') {
		for my $k (@{ $schema->{required} // [] }) {
			return "$at: missing $k" unless exists $v->{$k};
		}
		my $props = $schema->{properties} // {};
		my $extra = $schema->{additionalProperties};
		for my $k (sort keys %$v) {
			if ($props->{$k}) {
				my $err = $self->check($props->{$k}, $v->{$k}, "$at.$k");
				return $err if $err;
			} elsif (defined $extra && ref $extra eq 'HASH') {
				my $err = $self->check($extra, $v->{$k}, "$at.$k");
				return $err if $err;
			} elsif (defined $extra && !$extra) {
				return "$at: unexpected property $k";
			}
		}
	}
	if ($type eq 'array') {
		return "$at: fewer than $schema->{minItems} items"
			if defined $schema->{minItems} && @$v < $schema->{minItems};
		if (my $items = $schema->{items}) {
			for my $i (0 .. $#$v) {
				my $err = $self->check($items, $v->[$i], "$at\[$i]");
				return $err if $err;
			}
		}
	}
	return '';
}

1;
